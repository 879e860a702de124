// The console's screens: where each lives, who may open it, and what it shows.
//
// Who may open a screen follows the permissions the API gives the signed-in user (GET
// /api/v1/me, the spec's permission table in app/permissions.py): the same groups the
// API's views require, so a screen is offered exactly when its calls would be allowed.
// A screen's address typed by someone whose role may not open it shows a refusal and
// calls nothing; the API would refuse it anyway.

import type { ReactNode } from "react";

import { Dashboard } from "./Dashboard";
import { Analytics } from "./screens/Analytics";
import { AuditTrail } from "./screens/AuditTrail";
import { Documents } from "./screens/Documents";
import { Facilities } from "./screens/Facilities";
import { Invitations } from "./screens/Invitations";
import { Members } from "./screens/Members";
import { Onboarding } from "./screens/Onboarding";
import { Orders } from "./screens/Orders";
import { OrganizationList } from "./screens/OrganizationList";
import { Profile } from "./screens/Profile";
import { Providers } from "./screens/Providers";
import { Security } from "./screens/Security";
import type { Me } from "./types";

/** What every screen is given: who is signed in, the organization they act for (null
 * for MSC admins acting across tenants) and the address's parts after the screen's own. */
export interface ScreenProps {
  me: Me;
  organizationId: string;
  organizationName: string;
  rest: string[];
  /** To call when the screen changed the signed-in user (their name, their role here):
   * the console reads them again, and offers what their permissions now open. */
  onMeChanged: () => Promise<void>;
}

interface Screen {
  /** The first part of its address, /console/<path>. */
  path: string;
  title: string;
  /** Whether it needs an organization to act for (the user's active one). */
  inOrganization: boolean;
  /** Any of these permissions opens it; an empty list means any signed-in user. */
  anyOf: readonly string[];
  /** Only for MSC admins. */
  mscAdmin?: boolean;
  render: (props: ScreenProps) => ReactNode;
}

// The API's permission groups (app/permissions.py), by the same names.
const SEE_REPORTS = ["view-analytics", "run-reports"];
const SEE_DASHBOARD = [...SEE_REPORTS, "view-represented-organizations"];
const SEE_FACILITIES = ["manage-facilities", "update-facility-info", "manage-providers"];
const SEE_PROVIDERS = ["manage-facilities", "manage-providers", "invite-providers"];
const INVITE = ["invite-providers", "manage-providers"];
const HANDLE_ORDERS = ["place-orders", "view-all-orders", "view-facility-orders"];
const FOLLOW_ORGANIZATION = ["manage-facilities", "update-facility-info", "view-represented-organizations"];

export const SCREENS: readonly Screen[] = [
  { path: "dashboard", title: "Dashboard", inOrganization: true, anyOf: SEE_DASHBOARD, render: (p) => <Dashboard organizationId={p.organizationId} organizationName={p.organizationName} /> },
  { path: "onboarding", title: "Onboarding", inOrganization: true, anyOf: FOLLOW_ORGANIZATION, render: (p) => <Onboarding {...p} /> },
  { path: "facilities", title: "Facilities", inOrganization: true, anyOf: SEE_FACILITIES, render: (p) => <Facilities {...p} /> },
  { path: "providers", title: "Providers", inOrganization: true, anyOf: SEE_PROVIDERS, render: (p) => <Providers {...p} /> },
  { path: "invitations", title: "Invitations", inOrganization: true, anyOf: INVITE, render: (p) => <Invitations {...p} /> },
  { path: "members", title: "Members", inOrganization: true, anyOf: ["manage-members"], render: (p) => <Members {...p} /> },
  { path: "documents", title: "Documents", inOrganization: true, anyOf: ["manage-billing"], render: (p) => <Documents {...p} /> },
  // Before orders: a provider starts at their profile.
  { path: "profile", title: "My profile", inOrganization: true, anyOf: ["view-own-profile"], render: (p) => <Profile {...p} /> },
  { path: "orders", title: "Orders", inOrganization: true, anyOf: HANDLE_ORDERS, render: (p) => <Orders {...p} /> },
  { path: "analytics", title: "Analytics", inOrganization: true, anyOf: SEE_REPORTS, render: (p) => <Analytics {...p} /> },
  { path: "audit", title: "Audit trail", inOrganization: true, anyOf: ["view-audit-trail"], render: (p) => <AuditTrail {...p} /> },
  { path: "organizations", title: "Organizations", inOrganization: false, anyOf: [], mscAdmin: true, render: (p) => <OrganizationList {...p} /> },
  { path: "security", title: "Security", inOrganization: false, anyOf: [], render: (p) => <Security {...p} /> },
];

/** Whether the user may open the screen, acting for an organization or not. */
export function mayOpen(screen: Screen, me: Me, inOrganization: boolean): boolean {
  if (screen.mscAdmin && !me.is_msc_admin) return false;
  if (screen.inOrganization && !inOrganization) return false;
  return screen.anyOf.length === 0 || screen.anyOf.some((permission) => me.permissions.includes(permission));
}

export function findScreen(path: string): Screen | undefined {
  return SCREENS.find((screen) => screen.path === path);
}
