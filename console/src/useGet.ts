import { useEffect, useState } from "react";

import { call } from "./api";

export type Loaded<T> =
  | { state: "loading" }
  | { state: "failed"; error: unknown }
  | { state: "shown"; data: T };

/** GET `path` as the signed-in user, again when it changes or on `reload`; the answer to
 * a path left meanwhile is dropped, so a slow one never replaces a newer one. */
export function useGet<T>(path: string): [Loaded<T>, () => void] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading" });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let current = true;
    setLoaded({ state: "loading" });
    call<T>("GET", path)
      .then((data) => current && setLoaded({ state: "shown", data }))
      .catch((error: unknown) => current && setLoaded({ state: "failed", error }));
    return () => {
      current = false;
    };
  }, [path, attempt]);

  return [loaded, () => setAttempt((n) => n + 1)];
}
