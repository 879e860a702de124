import { type FormEvent, type InputHTMLAttributes, useState } from "react";

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

type FieldProps = {
  name: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  /** What the API said is wrong with it, if anything. */
  error?: string;
} & Pick<InputHTMLAttributes<HTMLInputElement>, "type" | "inputMode" | "autoComplete" | "autoFocus">;

/** A labelled input that keeps its value and names what is wrong with it, beside it. */
function Field({ name, label, value, onChange, error, ...input }: FieldProps) {
  const errorId = `${name}-error`;
  return (
    <>
      <label htmlFor={name}>{label}</label>
      <input
        id={name}
        name={name}
        value={value}
        onChange={(event) => onChange(event.target.value)}
        aria-invalid={error !== undefined}
        aria-describedby={error !== undefined ? errorId : undefined}
        required
        {...input}
      />
      {error !== undefined && (
        <p id={errorId} className="field-error">
          {error}
        </p>
      )}
    </>
  );
}
