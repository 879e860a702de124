// The console's only way to the service: the documented REST API, over fetch.
//
// The access token is held in this module's memory only (never in localStorage or
// sessionStorage, which any script on the page could read): a reload loses it, and the
// refresh cookie gets a new one. The refresh token lives in an HttpOnly cookie this code
// never sees; asking for it is what `X-Token-Delivery: cookie` does (the README's
// "Console" section, app/auth/refresh_cookie.py).

import type { Problem, Tokens } from "./types";

export const COOKIE_DELIVERY = { "X-Token-Delivery": "cookie" } as const;

export class ApiError extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(describeProblem(problem));
    this.problem = problem;
  }
}

/** A problem in words: what went wrong this time, else the status's name. */
export function describeProblem(problem: Problem): string {
  return problem.detail ?? problem.title;
}

/** The fields a problem names, each with its first message (nested fields joined by "."). */
export function fieldErrors(problem: Problem): Record<string, string> {
  const found: Record<string, string> = {};
  const walk = (at: string, value: unknown): void => {
    if (Array.isArray(value)) {
      if (value.length > 0 && !(at in found)) found[at] = String(value[0]);
    } else if (value !== null && typeof value === "object") {
      for (const [name, inner] of Object.entries(value)) walk(at ? `${at}.${name}` : name, inner);
    }
  };
  for (const fields of Object.values(problem.errors ?? {})) walk("", fields);
  return found;
}

let accessToken: string | null = null;
let refreshing: Promise<Tokens | null> | null = null;
let sessionEnded: () => void = () => undefined;

export function holdTokens(tokens: Tokens): void {
  accessToken = tokens.access_token;
}

export function forgetTokens(): void {
  accessToken = null;
}

/** What to do when the login is over (refresh refused): show the sign-in again. */
export function onSessionEnd(callback: () => void): void {
  sessionEnded = callback;
}

async function problemOf(response: Response): Promise<Problem> {
  try {
    const body: unknown = await response.json();
    if (body !== null && typeof body === "object" && "status" in body) return body as Problem;
  } catch {
    // Not a problem document (a proxy's page, say): described from the status below.
  }
  return {
    title: response.statusText || "Error",
    status: response.status,
    detail: `The service answered ${response.status} ${response.statusText}.`.trim(),
  };
}

interface Options {
  body?: unknown;
  headers?: Record<string, string>;
  authenticated?: boolean;
}

/** One request; the parsed answer, or an ApiError carrying the service's problem. */
export async function send<T>(method: string, path: string, options: Options = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (options.authenticated && accessToken !== null) {
    headers.Authorization = `Bearer ${accessToken}`;
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError({
      title: "No connection",
      status: 0,
      detail: "The service could not be reached. Check the connection and try again.",
    });
  }
  if (!response.ok) throw new ApiError(await problemOf(response));
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** New tokens from the refresh cookie; null when there is no login to resume. Only one
 * refresh is ever in flight: a second use of a refresh token would end the login. */
export function refreshAccess(): Promise<Tokens | null> {
  refreshing ??= send<Tokens>("POST", "/api/v1/auth/refresh", { headers: COOKIE_DELIVERY })
    .then((tokens) => {
      holdTokens(tokens);
      return tokens;
    })
    .catch(() => {
      forgetTokens();
      return null;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

function unauthorized(error: unknown): boolean {
  return error instanceof ApiError && error.problem.status === 401;
}

/** An API call as the signed-in user; an expired access token is renewed once. When the
 * login itself is over, the app is told (onSessionEnd) and the call fails with 401. */
export async function call<T>(
  method: string,
  path: string,
  options: Omit<Options, "authenticated"> = {},
): Promise<T> {
  const asUser = { ...options, authenticated: true };
  try {
    return await send<T>(method, path, asUser);
  } catch (error) {
    if (!unauthorized(error)) throw error;
  }
  if ((await refreshAccess()) !== null) {
    try {
      return await send<T>(method, path, asUser);
    } catch (error) {
      if (!unauthorized(error)) throw error;
    }
  }
  sessionEnded();
  throw new ApiError({
    title: "Unauthorized",
    status: 401,
    detail: "Your session has ended: sign in again.",
  });
}
