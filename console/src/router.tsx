// The console's addresses: /console/<screen>/<id>..., kept in the browser's history so a
// screen can be bookmarked, reloaded and left with the Back button. The service answers
// every such address with the console's page (app/blueprints/console.py).

import { type MouseEvent, type ReactNode, useEffect, useState } from "react";

const BASE = "/console/";

/** The address's part after /console/, without a trailing slash: "providers/42". */
function current(): string {
  const path = window.location.pathname;
  return (path.startsWith(BASE) ? path.slice(BASE.length) : "").replace(/\/+$/, "");
}

const listeners = new Set<() => void>();

// How many times the screen shown was asked for again (its link followed while on it):
// each time it is shown afresh, as a page would be on a reload.
let renewals = 0;

export function navigate(to: string): void {
  if (BASE + to === window.location.pathname + window.location.search) renewals += 1;
  else window.history.pushState(null, "", BASE + to);
  for (const listener of listeners) listener();
}

/** The current address and its query, again whenever it changes. */
export function useRoute(): { path: string; segments: string[]; query: URLSearchParams; renewal: number } {
  const [path, setPath] = useState(current);
  const [search, setSearch] = useState(window.location.search);
  const [renewal, setRenewal] = useState(renewals);
  useEffect(() => {
    const changed = (): void => {
      setPath(current());
      setSearch(window.location.search);
      setRenewal(renewals);
    };
    listeners.add(changed);
    window.addEventListener("popstate", changed);
    return () => {
      listeners.delete(changed);
      window.removeEventListener("popstate", changed);
    };
  }, []);
  return { path, segments: path === "" ? [] : path.split("/"), query: new URLSearchParams(search), renewal };
}

/** A real link (it opens in a new tab, and the keyboard reaches it) that moves within
 * the console without reloading it. */
export function Link({
  to,
  children,
  className,
  current,
}: {
  to: string;
  children: ReactNode;
  className?: string;
  /** Whether it leads to the screen shown (said to screen readers). */
  current?: boolean;
}) {
  function follow(event: MouseEvent<HTMLAnchorElement>): void {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  }
  return (
    <a href={BASE + to} onClick={follow} className={className} aria-current={current ? "page" : undefined}>
      {children}
    </a>
  );
}
