import { ApiError, describeProblem } from "./api";

/** What went wrong, in words: the API's problem detail, or the error's message. */
export function problemText(error: unknown): string {
  if (error instanceof ApiError) return describeProblem(error.problem);
  return error instanceof Error ? error.message : "Something went wrong.";
}

export function ProblemMessage({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const requestId = error instanceof ApiError ? error.problem.request_id : undefined;
  return (
    <div className="problem" role="alert">
      <p>{problemText(error)}</p>
      {requestId && <p className="muted">Reference for support: {requestId}</p>}
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
