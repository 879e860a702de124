import { useEffect, useRef, useState } from "react";

import { call } from "./api";

export type Loaded<T> =
  | { state: "loading" }
  | { state: "failed"; error: unknown }
  | { state: "shown"; data: T };

/** GET `path` as the signed-in user, again when it changes or on `reload`; the answer to
 * a path left meanwhile is dropped, so a slow one never replaces a newer one. A reload
 * keeps what is shown until the new answer replaces it: the rows on screen, and what
 * was typed or focused in them, stay while the service answers. */
export function useGet<T>(path: string): [Loaded<T>, () => void] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading" });
  const [attempt, setAttempt] = useState(0);
  const shownPath = useRef<string | null>(null);

  useEffect(() => {
    let current = true;
    const again = shownPath.current === path;
    setLoaded((was) => (again && was.state === "shown" ? was : { state: "loading" }));
    call<T>("GET", path)
      .then((data) => {
        if (!current) return;
        shownPath.current = path;
        setLoaded({ state: "shown", data });
      })
      .catch((error: unknown) => current && setLoaded({ state: "failed", error }));
    return () => {
      current = false;
    };
  }, [path, attempt]);

  return [loaded, () => setAttempt((n) => n + 1)];
}
