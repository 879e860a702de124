import { useState } from "react";

import { ApiError, fieldErrors } from "../api";

/** A form's sending: busy while the API answers, then its refusal, if any, and the fields
 * the refusal names. */
export function useAction(): {
  busy: boolean;
  error: unknown;
  invalid: Record<string, string>;
  run: (step: () => Promise<void>) => Promise<void>;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function run(step: () => Promise<void>): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      await step();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }
  const invalid = error instanceof ApiError ? fieldErrors(error.problem) : {};
  return { busy, error, invalid, run };
}
