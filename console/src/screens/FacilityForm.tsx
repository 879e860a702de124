import { type FormEvent, type ReactNode, useEffect, useState } from "react";

import { ApiError, call, fieldErrors } from "../api";
import { ProblemMessage } from "../ProblemMessage";
import type { Me } from "../types";
import {
  FACILITY_TYPES,
  type Facility,
  type Member,
  may,
  placeOfService,
  usePlacesOfService,
} from "./FacilityTypes";

export type Field =
  | "name"
  | "facility_type"
  | "npi"
  | "ptan"
  | "address"
  | "city"
  | "state"
  | "zip_code"
  | "phone"
  | "email"
  | "place_of_service"
  | "mac_jurisdiction"
  | "office_manager_id";

// In the form's order, each with its label; the API's own field names throughout.
const FIELDS: readonly [Field, string][] = [
  ["name", "Name"],
  ["facility_type", "Type"],
  ["place_of_service", "Place of service"],
  ["address", "Street address"],
  ["city", "City"],
  ["state", "State"],
  ["zip_code", "ZIP code"],
  ["phone", "Phone"],
  ["email", "Email"],
  ["npi", "NPI"],
  ["ptan", "PTAN"],
  ["mac_jurisdiction", "MAC jurisdiction"],
  ["office_manager_id", "Office manager"],
];

// Fields the API requires a value for; the others are cleared by sending null.
const REQUIRED: ReadonlySet<Field> = new Set(["name", "facility_type", "state", "place_of_service"]);

// What `update-facility-info` alone may change (PUT /api/v1/admin/facilities/{id}: office
// managers change its contact details and address, not its identity, type, manager or
// active flag); `manage-facilities` changes every field.
const CONTACT_FIELDS: ReadonlySet<Field> = new Set([
  "name",
  "address",
  "city",
  "state",
  "zip_code",
  "phone",
  "email",
  "place_of_service",
]);

/** Whether the user may add facilities and name any field of one. */
export function mayAdd(me: Me): boolean {
  return may(me, ["manage-facilities"]);
}

/** The organization's active office managers, for whoever may both name a facility's
 * manager and list the organization's members; null for anyone else. */
export function useManagers(me: Me, organizationId: string): Member[] | null {
  const [managers, setManagers] = useState<Member[] | null>(null);
  const allowed = mayAdd(me) && may(me, ["manage-members"]);
  useEffect(() => {
    if (!allowed) return;
    let current = true;
    call<Member[]>(
      "GET",
      `/api/v1/admin/organizations/${encodeURIComponent(organizationId)}/members?role=office_manager&status=active`,
    )
      // Without the list the form leaves the manager as it is: a facility page's concern.
      .then((found) => current && setManagers(found))
      .catch(() => undefined);
    return () => {
      current = false;
    };
  }, [allowed, organizationId]);
  return managers;
}

export type Draft = Record<Field, string> & { active: boolean };

export function draftOf(facility: Facility | null): Draft {
  const text = (value: string | null | undefined): string => value ?? "";
  return {
    name: text(facility?.name),
    facility_type: text(facility?.facility_type),
    npi: text(facility?.npi),
    ptan: text(facility?.ptan),
    address: text(facility?.address),
    city: text(facility?.city),
    state: text(facility?.state),
    zip_code: text(facility?.zip_code),
    phone: text(facility?.phone),
    email: text(facility?.email),
    place_of_service: facility?.place_of_service ?? "11",
    mac_jurisdiction: text(facility?.mac_jurisdiction),
    office_manager_id: text(facility?.office_manager_id),
    active: facility?.active ?? true,
  };
}

/** What the user's permissions let them change: which fields, and the active flag. */
export interface Editable {
  fields: ReadonlySet<Field>;
  active: boolean;
}

export function editableBy(me: Me): Editable {
  if (mayAdd(me)) {
    return { fields: new Set(FIELDS.map(([field]) => field)), active: true };
  }
  return { fields: CONTACT_FIELDS, active: false };
}

/** The request body: for a new facility every field given, for an existing one only the
 * fields changed (the API changes only the fields sent); an emptied field is cleared. */
export function bodyOf(draft: Draft, editable: Editable, was: Facility | null): Record<string, unknown> {
  const before = draftOf(was);
  const body: Record<string, unknown> = {};
  for (const field of editable.fields) {
    const value = draft[field].trim();
    if (was !== null && value === before[field]) continue;
    if (value === "" && !REQUIRED.has(field)) {
      if (was !== null) body[field] = null;
    } else {
      body[field] = value;
    }
  }
  if (editable.active && draft.active !== before.active) body.active = draft.active;
  return body;
}

interface Props {
  facility: Facility | null;
  editable: Editable;
  /** The organization's active office managers, when the user may list members. */
  managers: Member[] | null;
  submitLabel: string;
  save: (body: Record<string, unknown>) => Promise<void>;
  children?: ReactNode;
}

/** A facility's fields as a form; a refusal keeps what was typed and names each field
 * the API found at fault beside it. */
export function FacilityForm({ facility, editable, managers, submitLabel, save, children }: Props) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(facility));
  const places = usePlacesOfService();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent): Promise<void> {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    setErrors({});
    try {
      await save(bodyOf(draft, editable, facility));
    } catch (error) {
      setProblem(error);
      if (error instanceof ApiError) setErrors(fieldErrors(error.problem));
    } finally {
      setBusy(false);
    }
  }

  function input(field: Field, text: string): ReactNode {
    const id = `facility-${field}`;
    const error = errors[field];
    const described = error ? `${id}-error` : undefined;
    const common = {
      id,
      "aria-invalid": error ? true : undefined,
      "aria-describedby": described,
      required: REQUIRED.has(field),
    };
    const change = (value: string): void => setDraft({ ...draft, [field]: value });
    let control: ReactNode;
    if (field === "facility_type") {
      control = (
        <select {...common} value={draft[field]} onChange={(event) => change(event.target.value)}>
          {facility === null && <option value="">Choose…</option>}
          {Object.entries(FACILITY_TYPES).map(([type, name]) => (
            <option key={type} value={type}>
              {name}
            </option>
          ))}
        </select>
      );
    } else if (field === "place_of_service") {
      control = (
        <select {...common} value={draft[field]} onChange={(event) => change(event.target.value)}>
          {/* The value held is offered while the names are still on their way. */}
          {!(draft[field] in places) && <option value={draft[field]}>{draft[field]}</option>}
          {Object.keys(places).map((code) => (
            <option key={code} value={code}>
              {placeOfService(code, places)}
            </option>
          ))}
        </select>
      );
    } else if (field === "office_manager_id") {
      if (managers === null) return null;
      control = (
        <select {...common} value={draft[field]} onChange={(event) => change(event.target.value)}>
          <option value="">None</option>
          {managers.map((manager) => (
            <option key={manager.user_id} value={manager.user_id}>
              {manager.name}
            </option>
          ))}
        </select>
      );
    } else {
      control = (
        <input
          {...common}
          type={field === "email" ? "email" : field === "phone" ? "tel" : "text"}
          value={draft[field]}
          onChange={(event) => change(event.target.value)}
        />
      );
    }
    return (
      <div key={field} className="facility-field">
        <label htmlFor={id}>
          {text}
          {REQUIRED.has(field) && <span className="muted"> (required)</span>}
        </label>
        {control}
        {error && (
          <p id={described} className="field-error">
            {error}
          </p>
        )}
      </div>
    );
  }

  return (
    <form className="facility-form" noValidate onSubmit={(event) => void submit(event)}>
      {problem !== null && <ProblemMessage error={problem} />}
      <div className="facility-fields">{FIELDS.filter(([field]) => editable.fields.has(field)).map(([field, text]) => input(field, text))}</div>
      {facility !== null && editable.active && (
        <p className="facility-field facility-checkbox">
          <input
            id="facility-active"
            type="checkbox"
            checked={draft.active}
            onChange={(event) => setDraft({ ...draft, active: event.target.checked })}
          />
          <label htmlFor="facility-active">Active</label>
        </p>
      )}
      <p className="facility-actions">
        <button type="submit" disabled={busy}>
          {busy ? "Saving…" : submitLabel}
        </button>
        {children}
      </p>
    </form>
  );
}
