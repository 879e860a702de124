// The API's answers the order screens read, as the OpenAPI document gives them
// (OrderSchema, AssignmentSchema, ProviderSchema).

import type { Me } from "../types";

export interface Order {
  id: string;
  organization_id: string;
  facility_id: string;
  provider_id: string;
  status: string;
  amount: string;
  line_count: number;
  created_at: string;
  updated_at: string;
  submitted_at: string | null;
  approved_at: string | null;
  shipped_at: string | null;
  delivered_at: string | null;
  cancelled_at: string | null;
}

export const ORDER_STATUSES = ["draft", "submitted", "approved", "shipped", "delivered", "cancelled"] as const;

// The lifecycle POST /api/v1/orders/{id}/status documents: from each status, where it may go.
const NEXT: Readonly<Record<string, readonly string[]>> = {
  draft: ["submitted", "cancelled"],
  submitted: ["approved", "cancelled"],
  approved: ["shipped", "cancelled"],
  shipped: ["delivered"],
  delivered: [],
  cancelled: [],
};

const STAFF = ["view-all-orders", "view-facility-orders"];

/** The statuses the signed-in user may move `order` to, as the API allows them: staff
 * (whose list the API already narrows to the orders they handle) approve, ship, deliver
 * and cancel; the provider submits or cancels their own draft or submitted order. */
export function movesFor(order: Order, me: Me): string[] {
  const next = NEXT[order.status] ?? [];
  const staff = me.is_msc_admin || STAFF.some((permission) => me.permissions.includes(permission));
  const owner = order.provider_id === me.id && ["draft", "submitted"].includes(order.status);
  return next.filter(
    (status) => (staff && status !== "submitted") || (owner && ["submitted", "cancelled"].includes(status)),
  );
}

/** When the order reached each status it has been through, in the lifecycle's order. */
export function stamps(order: Order): [string, string][] {
  const all: [string, string | null][] = [
    ["created", order.created_at],
    ["submitted", order.submitted_at],
    ["approved", order.approved_at],
    ["shipped", order.shipped_at],
    ["delivered", order.delivered_at],
    ["cancelled", order.cancelled_at],
  ];
  return all.filter((stamp): stamp is [string, string] => stamp[1] !== null);
}

export interface Assignment {
  id: string;
  user_id: string;
  organization_id: string;
  organization_name: string;
  facility_id: string;
  facility_name: string;
  is_primary: boolean;
  status: string;
  start_date: string;
  end_date: string | null;
}

export interface Provider {
  id: string;
  name: string;
}
