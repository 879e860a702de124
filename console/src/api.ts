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

/** The fields a problem names, each with its first message (nested fields joined by ".";
 * a list's item, which the API names by its index, counts as the list's own field). */
export function fieldErrors(problem: Problem): Record<string, string> {
  const found: Record<string, string> = {};
  const walk = (at: string, value: unknown): void => {
    if (Array.isArray(value)) {
      if (value.length > 0 && !(at in found)) found[at] = String(value[0]);
    } else if (value !== null && typeof value === "object") {
      for (const [name, inner] of Object.entries(value)) {
        walk(/^\d+$/.test(name) ? at : at ? `${at}.${name}` : name, inner);
      }
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

const NO_CONNECTION: Problem = {
  title: "No connection",
  status: 0,
  detail: "The service could not be reached. Check the connection and try again.",
};

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
    throw new ApiError(NO_CONNECTION);
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

/** A refused token: the login may need renewing. A 401 naming a field is a refused
 * secret instead (a wrong code from the authenticator), which renewing would not change. */
function unauthorized(error: unknown): boolean {
  return error instanceof ApiError && error.problem.status === 401 && error.problem.errors === undefined;
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

/** A file from the API (a document's content, a CSV export), saved by the browser under
 * the name the service gives (Content-Disposition) or `fallbackName`. The bearer token
 * cannot travel in a plain link, so the file is fetched and handed over as a blob URL. */
export async function download(path: string, fallbackName: string): Promise<void> {
  const response = await authorized(path, { method: "GET" });
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = fileNameOf(response.headers.get("Content-Disposition") ?? "") ?? fallbackName;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked later: the browser starts the download from the URL after this call returns.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The file name a Content-Disposition header gives (RFC 6266): the UTF-8 form
 * (`filename*=UTF-8''...`, percent-encoded) where there is one, else the plain
 * `filename`, quoted with backslash escapes or bare; null when it names none. */
export function fileNameOf(disposition: string): string | null {
  const encoded = /filename\*\s*=\s*UTF-8''([^;\s]+)/i.exec(disposition);
  if (encoded) {
    try {
      return decodeURIComponent(encoded[1]);
    } catch {
      // Malformed: the plain form, if any, below.
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(disposition);
  if (quoted) return quoted[1].replace(/\\(.)/g, "$1");
  const bare = /filename\s*=\s*([^;\s]+)/i.exec(disposition);
  return bare ? bare[1] : null;
}

/** A multipart upload (a document); the parsed answer, or an ApiError. */
export async function upload<T>(path: string, form: FormData): Promise<T> {
  const response = await authorized(path, { method: "POST", body: form });
  return (await response.json()) as T;
}

/** A request with the access token renewed once when it has expired, for bodies and
 * answers that are not JSON; refused answers become ApiErrors as in `send`. */
async function authorized(path: string, init: RequestInit): Promise<Response> {
  const attempt = async (): Promise<Response> => {
    const headers: Record<string, string> = {};
    if (accessToken !== null) headers.Authorization = `Bearer ${accessToken}`;
    try {
      return await fetch(path, { ...init, headers, credentials: "same-origin" });
    } catch {
      throw new ApiError(NO_CONNECTION);
    }
  };
  let response = await attempt();
  if (response.status === 401 && (await refreshAccess()) !== null) response = await attempt();
  if (response.status === 401) sessionEnded();
  if (!response.ok) throw new ApiError(await problemOf(response));
  return response;
}
