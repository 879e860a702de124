import { type FormEvent, type InputHTMLAttributes, useState } from "react";

import { ApiError, call, fieldErrors } from "../api";
import { ProblemMessage } from "../ProblemMessage";
import { Link, navigate } from "../router";
import { label } from "../words";
import type { OrganizationDetails } from "./Organization";

const TYPES = ["group_practice", "hospital_system", "individual"];

interface Typed {
  name: string;
  organization_type: string;
  tax_id: string;
  primary_contact_name: string;
  primary_contact_email: string;
  primary_contact_phone: string;
  inviteAdmin: boolean;
  admin_name: string;
  admin_email: string;
}

const BLANK: Typed = {
  name: "",
  organization_type: TYPES[0],
  tax_id: "",
  primary_contact_name: "",
  primary_contact_email: "",
  primary_contact_phone: "",
  inviteAdmin: true,
  admin_name: "",
  admin_email: "",
};

const OPTIONAL = ["tax_id", "primary_contact_name", "primary_contact_email", "primary_contact_phone"] as const;

/** The request's body: the optional details left empty are not sent. */
function body(typed: Typed): Record<string, unknown> {
  const sent: Record<string, unknown> = { name: typed.name.trim(), organization_type: typed.organization_type };
  for (const name of OPTIONAL) if (typed[name].trim()) sent[name] = typed[name].trim();
  if (typed.inviteAdmin) sent.first_admin = { name: typed.admin_name.trim(), email: typed.admin_email.trim() };
  return sent;
}

/** MSC admins: POST /api/v1/admin/organizations, with the invitation of its first admin. */
export function OrganizationNew() {
  const [typed, setTyped] = useState<Typed>(BLANK);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const invalid = error instanceof ApiError ? fieldErrors(error.problem) : {};

  async function submit(event: FormEvent): Promise<void> {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await call<OrganizationDetails>("POST", "/api/v1/admin/organizations", { body: body(typed) });
      navigate(`organizations/${created.id}`);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  const text = (name: keyof Typed) => ({
    value: String(typed[name]),
    onChange: (value: string) => setTyped({ ...typed, [name]: value }),
  });

  return (
    <>
      <p className="back">
        <Link to="organizations">← All organizations</Link>
      </p>
      <h1>New organization</h1>
      <form className="entry" onSubmit={(event) => void submit(event)} noValidate>
        <fieldset>
          <legend>The organization</legend>
          <Field name="name" label="Name" error={invalid.name} required {...text("name")} />
          <div className="field">
            <label htmlFor="organization_type">Type</label>
            <select
              id="organization_type"
              value={typed.organization_type}
              onChange={(event) => setTyped({ ...typed, organization_type: event.target.value })}
              aria-invalid={invalid.organization_type !== undefined}
              aria-describedby={invalid.organization_type !== undefined ? "organization_type-error" : undefined}
            >
              {TYPES.map((type) => (
                <option key={type} value={type}>
                  {label(type)}
                </option>
              ))}
            </select>
            <FieldError name="organization_type" error={invalid.organization_type} />
          </div>
          <Field name="tax_id" label="Tax id (optional)" error={invalid.tax_id} placeholder="12-3456789" {...text("tax_id")} />
          <Field name="primary_contact_name" label="Primary contact name (optional)" error={invalid.primary_contact_name} {...text("primary_contact_name")} />
          <Field
            name="primary_contact_email"
            label="Primary contact email (optional)"
            type="email"
            error={invalid.primary_contact_email}
            {...text("primary_contact_email")}
          />
          <Field
            name="primary_contact_phone"
            label="Primary contact phone (optional)"
            type="tel"
            error={invalid.primary_contact_phone}
            {...text("primary_contact_phone")}
          />
        </fieldset>
        <fieldset>
          <legend>Its first admin</legend>
          <div className="check">
            <input
              id="invite-admin"
              type="checkbox"
              checked={typed.inviteAdmin}
              onChange={(event) => setTyped({ ...typed, inviteAdmin: event.target.checked })}
            />
            <label htmlFor="invite-admin">Invite its first organization admin now (the invitation goes by email)</label>
          </div>
          {typed.inviteAdmin && (
            <>
              <Field name="first_admin.name" label="Admin's name" error={invalid["first_admin.name"]} required {...text("admin_name")} />
              <Field
                name="first_admin.email"
                label="Admin's email"
                type="email"
                error={invalid["first_admin.email"]}
                required
                {...text("admin_email")}
              />
            </>
          )}
        </fieldset>
        {error !== null && <ProblemMessage error={error} />}
        <div className="actions">
          <button type="submit" disabled={busy}>
            {busy ? "Creating…" : "Create the organization"}
          </button>
          <Link to="organizations" className="button-link secondary">
            Cancel
          </Link>
        </div>
      </form>
    </>
  );
}

type FieldProps = Omit<InputHTMLAttributes<HTMLInputElement>, "onChange" | "value"> & {
  name: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  error?: string;
};

function Field({ name, label: text, value, onChange, error, ...input }: FieldProps) {
  return (
    <div className="field">
      <label htmlFor={name}>{text}</label>
      <input
        id={name}
        name={name}
        value={value}
        onChange={(event) => onChange(event.target.value)}
        aria-invalid={error !== undefined}
        aria-describedby={error !== undefined ? `${name}-error` : undefined}
        {...input}
      />
      <FieldError name={name} error={error} />
    </div>
  );
}

function FieldError({ name, error }: { name: string; error?: string }) {
  if (error === undefined) return null;
  return (
    <p id={`${name}-error`} className="field-error">
      {error}
    </p>
  );
}
