// Signing in and out, and acting for another organization: the API's /api/v1/auth
// endpoints, always asking for the refresh token as the HttpOnly cookie.

import { COOKIE_DELIVERY, call, forgetTokens, holdTokens, send } from "./api";
import type { Me, MfaChallenge, Tokens } from "./types";

export type SignInStep = { signedIn: true } | { signedIn: false; challenge: MfaChallenge };

export async function signIn(email: string, password: string): Promise<SignInStep> {
  const answer = await send<Tokens | MfaChallenge>("POST", "/api/v1/auth/login", {
    body: { email, password },
    headers: COOKIE_DELIVERY,
  });
  if ("mfa_token" in answer) return { signedIn: false, challenge: answer };
  holdTokens(answer);
  return { signedIn: true };
}

export async function signInWithCode(mfaToken: string, code: string): Promise<void> {
  const tokens = await send<Tokens>("POST", "/api/v1/auth/login/mfa", {
    body: { mfa_token: mfaToken, code },
    headers: COOKIE_DELIVERY,
  });
  holdTokens(tokens);
}

export async function signOut(): Promise<void> {
  try {
    await call<void>("POST", "/api/v1/auth/logout", { headers: COOKIE_DELIVERY });
  } finally {
    forgetTokens();
  }
}

export async function switchOrganization(organizationId: string): Promise<void> {
  const tokens = await call<Tokens>("POST", "/api/v1/auth/switch-organization", {
    body: { organization_id: organizationId },
    headers: COOKIE_DELIVERY,
  });
  holdTokens(tokens);
}

export function loadMe(): Promise<Me> {
  return call<Me>("GET", "/api/v1/me");
}
