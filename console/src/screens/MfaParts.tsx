// What enrolling a second factor shows, in the security screen and at sign-in alike.

import { type FormEvent, useState } from "react";

import { ApiError, fieldErrors } from "../api";
import { ProblemMessage } from "../ProblemMessage";
import { Field } from "../Field";
import "./Mfa.css";
import "./Profile.css";

/** POST /api/v1/auth/mfa/enrollment's answer (and /login/mfa/enrollment's). */
export interface Enrollment {
  otpauth_uri: string;
  secret: string;
  qr_svg: string;
}

/** The QR code the API drew, redrawn from its shapes: the console's policy loads no image
 * from a data: URL, and the API's SVG document is not put into the page as markup. */
function QrCode({ svg }: { svg: string }) {
  const drawn = new DOMParser().parseFromString(svg, "image/svg+xml").documentElement;
  const viewBox = drawn.getAttribute("viewBox");
  const paths = [...drawn.getElementsByTagName("path")].map((path) => path.getAttribute("d") ?? "");
  if (viewBox === null || paths.length === 0) return null;
  return (
    <svg className="qr" viewBox={viewBox} role="img" aria-label="QR code of the key, for an authenticator app to scan">
      <rect width="100%" height="100%" fill="#ffffff" />
      {paths.map((d, index) => (
        <path key={index} d={d} fill="#000000" />
      ))}
    </svg>
  );
}

/** The new key: its QR code, and as text to type in or copy. Shown this once by the API. */
export function EnrollmentKey({ enrollment }: { enrollment: Enrollment }) {
  return (
    <div className="enrollment">
      <QrCode svg={enrollment.qr_svg} />
      <div>
        <p>Scan the code with an authenticator app, or enter the key by hand.</p>
        <label htmlFor="mfa-secret">Key</label>
        <input id="mfa-secret" className="copyable" readOnly value={enrollment.secret} />
        <label htmlFor="mfa-uri">Address for the app (otpauth)</label>
        <input id="mfa-uri" className="copyable" readOnly value={enrollment.otpauth_uri} />
      </div>
    </div>
  );
}

/** Recovery codes, which the API shows this once. */
export function RecoveryCodes({ codes }: { codes: string[] }) {
  return (
    <div className="notice recovery" role="status">
      <h3>Your recovery codes</h3>
      <p>
        Each one signs you in once without the app. Keep them somewhere safe now: they are not
        shown again.
      </p>
      <ul className="codes" aria-label="Recovery codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** A second factor as the API takes it: the app's code, or a recovery code. */
export type Proof = { code: string } | { recovery_code: string };

interface CodeFormProps {
  /** Tells the forms of one page apart (their inputs' ids). */
  name: string;
  submit: string;
  /** Offer a recovery code instead of the app's code (turning the second factor off). */
  recovery?: boolean;
  onCode: (proof: Proof) => Promise<void>;
}

/** A code from the authenticator app, sent with `onCode`; the API's refusal beside it. */
export function CodeForm({ name, submit, recovery = false, onCode }: CodeFormProps) {
  const [code, setCode] = useState("");
  const [useRecovery, setUseRecovery] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const invalid = error instanceof ApiError ? fieldErrors(error.problem) : {};

  async function send(event: FormEvent): Promise<void> {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onCode(useRecovery ? { recovery_code: code.trim() } : { code: code.trim() });
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  const field = useRecovery ? "recovery_code" : "code";
  return (
    <form className="stacked" onSubmit={(event) => void send(event)} noValidate>
      <Field
        name={`${name}-${field}`}
        label={useRecovery ? "Recovery code" : "Code from your authenticator app"}
        value={code}
        onChange={setCode}
        error={invalid[field]}
        inputMode={useRecovery ? "text" : "numeric"}
        autoComplete="one-time-code"
      />
      {error !== null && <ProblemMessage error={error} />}
      <div className="actions">
        <button type="submit" disabled={busy}>
          {busy ? "Checking…" : submit}
        </button>
        {recovery && (
          <button type="button" className="secondary" onClick={() => setUseRecovery(!useRecovery)}>
            {useRecovery ? "Use the app's code" : "Use a recovery code"}
          </button>
        )}
      </div>
    </form>
  );
}
