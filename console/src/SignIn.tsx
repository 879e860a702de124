import { type FormEvent, useState } from "react";

import { ApiError, COOKIE_DELIVERY, fieldErrors, holdTokens, send } from "./api";
import { signIn, signInWithCode } from "./auth";
import { Field } from "./Field";
import { ProblemMessage } from "./ProblemMessage";
import { CodeForm, type Enrollment, EnrollmentKey, type Proof, RecoveryCodes } from "./screens/MfaParts";
import type { MfaChallenge, Tokens } from "./types";

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
    return <EnrolOnSignIn challenge={challenge} onSignedIn={onSignedIn} onBack={() => setChallenge(null)} />;
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
          <Field
            name="code"
            label="Code from your authenticator app"
            value={code}
            onChange={setCode}
            error={invalid.code}
            inputMode="numeric"
            autoComplete="one-time-code"
            autoFocus
          />
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
        <Field
          name="email"
          label="Email"
          type="email"
          value={email}
          onChange={setEmail}
          error={invalid.email}
          autoComplete="username"
        />
        <Field
          name="password"
          label="Password"
          type="password"
          value={password}
          onChange={setPassword}
          error={invalid.password}
          autoComplete="current-password"
        />
        {error !== null && <ProblemMessage error={error} />}
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

/** The API's rule, which reads within a sentence, as a sentence of its own. */
function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A login that must set up a second factor before it goes on: a new key for the
 * authenticator app (POST /api/v1/auth/login/mfa/enrollment), confirmed with a code from
 * it (.../confirm), which signs in and gives the recovery codes, shown this once. */
function EnrolOnSignIn({
  challenge,
  onSignedIn,
  onBack,
}: {
  challenge: MfaChallenge;
  onSignedIn: () => void;
  onBack: () => void;
}) {
  const [enrollment, setEnrollment] = useState<Enrollment | null>(null);
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const mfaToken = challenge.mfa_token;

  async function begin(): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      setEnrollment(await send<Enrollment>("POST", "/api/v1/auth/login/mfa/enrollment", { body: { mfa_token: mfaToken } }));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  async function confirm(proof: Proof): Promise<void> {
    const signedIn = await send<Tokens & { recovery_codes: string[] }>("POST", "/api/v1/auth/login/mfa/enrollment/confirm", {
      body: { mfa_token: mfaToken, ...proof },
      headers: COOKIE_DELIVERY,
    });
    holdTokens(signedIn);
    setRecoveryCodes(signedIn.recovery_codes);
  }

  if (recoveryCodes !== null) {
    return (
      <main className="sign-in wide">
        <h1>Your second factor is set up</h1>
        <RecoveryCodes codes={recoveryCodes} />
        <button type="button" onClick={onSignedIn}>
          I have kept them: continue
        </button>
      </main>
    );
  }

  return (
    <main className="sign-in wide">
      <h1>Set up a second factor first</h1>
      <p>{sentence(challenge.mfa_requirement ?? "your account must sign in with a second factor")}.</p>
      {enrollment === null ? (
        <>
          <p>Set up an authenticator app on your phone now; from then on, signing in asks for its code.</p>
          {error !== null && <ProblemMessage error={error} />}
          <div className="actions">
            <button type="button" onClick={() => void begin()} disabled={busy}>
              {busy ? "Preparing…" : "Set up an authenticator app"}
            </button>
            <button type="button" className="secondary" onClick={onBack}>
              Back to sign-in
            </button>
          </div>
        </>
      ) : (
        <>
          <EnrollmentKey enrollment={enrollment} />
          <h2>Confirm with a code</h2>
          <CodeForm
            name="sign-in"
            submit="Confirm and sign in"
            onCode={confirm}
          />
        </>
      )}
    </main>
  );
}
