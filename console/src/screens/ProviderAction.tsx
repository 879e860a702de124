import { useState } from "react";

import { ApiError, fieldErrors } from "../api";
import { ProblemMessage } from "../ProblemMessage";

export interface Action {
  busy: boolean;
  /** The refusal of the last attempt, if it failed. */
  error: unknown;
  /** Its fields named by a 422 (or a refusal that names one), each with its message. */
  fields: Record<string, string>;
  /** Runs `attempt` unless one is in flight; true when it succeeded. */
  run: (attempt: () => Promise<unknown>) => Promise<boolean>;
  clear: () => void;
}

/** One change asked of the API at a time, with its refusal kept to show beside the form. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function run(attempt: () => Promise<unknown>): Promise<boolean> {
    if (busy) return false;
    setBusy(true);
    setError(null);
    try {
      await attempt();
      return true;
    } catch (caught) {
      setError(caught);
      return false;
    } finally {
      setBusy(false);
    }
  }
  const fields = error instanceof ApiError ? fieldErrors(error.problem) : {};
  return { busy, error, fields, run, clear: () => setError(null) };
}

/** The refusal in words; when it only names fields already shown with their message,
 * a pointer to them. */
export function ActionProblem({ action, shownFields }: { action: Action; shownFields: readonly string[] }) {
  if (action.error === null) return null;
  const named = Object.keys(action.fields);
  if (named.length > 0 && named.every((field) => shownFields.includes(field)))
    return (
      <p className="problem" role="alert">
        Check the {named.length === 1 ? "field" : "fields"} marked above.
      </p>
    );
  return <ProblemMessage error={action.error} />;
}

/** A field's message, the id its input names in aria-describedby. */
export function FieldError({ id, message }: { id: string; message: string | undefined }) {
  if (message === undefined) return null;
  return (
    <p className="field-error" id={id}>
      {message}
    </p>
  );
}

/** The attributes that tie an input to its field's message. */
export function invalidIf(message: string | undefined, errorId: string) {
  return message === undefined ? {} : { "aria-invalid": true, "aria-describedby": errorId };
}
