import { type FormEvent, useState } from "react";

import { ApiError, fieldErrors } from "./api";
import { signIn, signInWithCode } from "./auth";
import { ProblemMessage } from "./ProblemMessage";
import type { MfaChallenge } from "./types";

/** Email and password, then, when the API asks for it, a code from the authenticator. */
export function SignIn({ onSignedIn, notice }: { onSignedIn: () => void; notice?: string }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [challenge, setChallenge] = useState<MfaChallenge | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const invalid = error instanceof ApiError ? fieldErrors(error.problem) : {};

  async function submit(event: FormEvent, step: () => Promise<void>): Promise<void> {
    event.preventDefault();
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

  if (challenge?.mfa_enrollment_required) {
    return (
      <main className="sign-in">
        <h1>Set up a second factor first</h1>
        <p>
          {challenge.mfa_requirement ?? "Your account must sign in with a second factor"}. The
          console cannot set one up yet: set it up with an authenticator app through the API
          (<code>/api/v1/auth/login/mfa/enrollment</code>), then sign in here.
        </p>
        <button type="button" onClick={() => setChallenge(null)}>
          Back to sign-in
        </button>
      </main>
    );
  }

  if (challenge !== null) {
    const mfaToken = challenge.mfa_token;
    return (
      <main className="sign-in">
        <h1>Enter your code</h1>
        <form
          onSubmit={(event) =>
            submit(event, async () => {
              await signInWithCode(mfaToken, code.trim());
              onSignedIn();
            })
          }
          noValidate
        >
          <label htmlFor="code">Code from your authenticator app</label>
          <input
            id="code"
            name="code"
            inputMode="numeric"
            autoComplete="one-time-code"
            value={code}
            onChange={(event) => setCode(event.target.value)}
            aria-invalid={"code" in invalid}
            aria-describedby={"code" in invalid ? "code-error" : undefined}
            required
            autoFocus
          />
          {"code" in invalid && (
            <p id="code-error" className="field-error">
              {invalid.code}
            </p>
          )}
          {error !== null && <ProblemMessage error={error} />}
          <button type="submit" disabled={busy}>
            {busy ? "Checking…" : "Sign in"}
          </button>
          <button type="button" className="secondary" onClick={() => setChallenge(null)}>
            Start again
          </button>
        </form>
      </main>
    );
  }

  return (
    <main className="sign-in">
      <h1>Sign in to the MSC console</h1>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <form
        onSubmit={(event) =>
          submit(event, async () => {
            const step = await signIn(email.trim(), password);
            if (step.signedIn) onSignedIn();
            else setChallenge(step.challenge);
          })
        }
        noValidate
      >
        <label htmlFor="email">Email</label>
        <input
          id="email"
          name="email"
          type="email"
          autoComplete="username"
          value={email}
          onChange={(event) => setEmail(event.target.value)}
          aria-invalid={"email" in invalid}
          aria-describedby={"email" in invalid ? "email-error" : undefined}
          required
        />
        {"email" in invalid && (
          <p id="email-error" className="field-error">
            {invalid.email}
          </p>
        )}
        <label htmlFor="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          aria-invalid={"password" in invalid}
          aria-describedby={"password" in invalid ? "password-error" : undefined}
          required
        />
        {"password" in invalid && (
          <p id="password-error" className="field-error">
            {invalid.password}
          </p>
        )}
        {error !== null && <ProblemMessage error={error} />}
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
