import type { ReactNode } from "react";

import { ProblemMessage } from "./ProblemMessage";
import type { Loaded } from "./useGet";

/** What a screen shows while its answer is on its way (`children`: what is loading, in
 * words) or when it failed (the API's problem, and a way to ask again); nothing once
 * the answer is there, for the screen to show. */
export function Pending<T>({ loaded, onRetry, children }: { loaded: Loaded<T>; onRetry: () => void; children: ReactNode }) {
  if (loaded.state === "loading") {
    return (
      <p role="status" className="muted">
        {children}
      </p>
    );
  }
  if (loaded.state === "failed") return <ProblemMessage error={loaded.error} onRetry={onRetry} />;
  return null;
}
