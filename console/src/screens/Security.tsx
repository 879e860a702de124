import { type FormEvent, useState } from "react";

import { call } from "../api";
import { Field } from "../Field";
import { Pending } from "../Pending";
import { ProblemMessage } from "../ProblemMessage";
import type { ScreenProps } from "../screens";
import { useGet } from "../useGet";
import { moment } from "../words";
import { CodeForm, type Enrollment, EnrollmentKey, type Proof, RecoveryCodes } from "./MfaParts";
import "./Profile.css";
import { useAction } from "./ProfileAction";

/** GET /api/v1/auth/mfa. */
interface MfaStatus {
  enabled: boolean;
  enabled_at: string | null;
  enrollment_pending: boolean;
  recovery_codes_left: number;
  required_by: string | null;
}

/** GET /api/v1/auth/sessions, one of them. */
interface LoginSession {
  id: string;
  created_at: string;
  last_used_at: string;
  user_agent: string | null;
  ip: string | null;
  current: boolean;
}

interface RecoveryCodeList {
  recovery_codes: string[];
}

/** Every signed-in user's own security: their second factor, their login sessions and
 * their password. */
export function Security(_props: ScreenProps) {
  const [sessions, reloadSessions] = useGet<LoginSession[]>("/api/v1/auth/sessions");
  return (
    <>
      <h1>Security</h1>
      <SecondFactor onOthersEnded={reloadSessions} />
      <section className="section" aria-labelledby="sessions-heading">
        <h2 id="sessions-heading">Where you are signed in</h2>
        <Pending loaded={sessions} onRetry={reloadSessions}>Loading your sessions…</Pending>
        {sessions.state === "shown" && <Sessions sessions={sessions.data} onEnded={reloadSessions} />}
      </section>
      <PasswordChange onOthersEnded={reloadSessions} />
    </>
  );
}

function SecondFactor({ onOthersEnded }: { onOthersEnded: () => void }) {
  const [status, reload] = useGet<MfaStatus>("/api/v1/auth/mfa");
  // Shown this once, whatever the status shows after.
  const [codes, setCodes] = useState<string[] | null>(null);

  function newCodes(list: string[]): void {
    setCodes(list);
    reload();
  }

  return (
    <section className="section" aria-labelledby="mfa-heading">
      <h2 id="mfa-heading">Second factor</h2>
      {codes !== null && <RecoveryCodes codes={codes} />}
      <Pending loaded={status} onRetry={reload}>Loading your second factor…</Pending>
      {status.state === "shown" &&
        (status.data.enabled ? (
          <Enabled
            status={status.data}
            onCodes={newCodes}
            onDisabled={() => {
              // Turned off, the codes shown work no more.
              setCodes(null);
              reload();
            }}
          />
        ) : (
          <>
            <p>
              Off: you sign in with your password alone.
              {status.data.required_by && ` Required of you: ${status.data.required_by}.`}
            </p>
            <Enrol
              pending={status.data.enrollment_pending}
              onEnrolled={(list) => {
                newCodes(list);
                onOthersEnded();
              }}
            />
          </>
        ))}
    </section>
  );
}

function Enabled({ status, onCodes, onDisabled }: { status: MfaStatus; onCodes: (codes: string[]) => void; onDisabled: () => void }) {
  return (
    <>
      <p>
        On{status.enabled_at && ` since ${moment(status.enabled_at)}`}: signing in asks for a code from your
        authenticator app. {status.recovery_codes_left} recovery codes left.
      </p>
      <h3>New recovery codes</h3>
      <p className="muted">Ten new codes replace the ones you have.</p>
      <CodeForm
        name="recovery-codes"
        submit="Make new recovery codes"
        onCode={async (proof) => onCodes((await call<RecoveryCodeList>("POST", "/api/v1/auth/mfa/recovery-codes", { body: proof })).recovery_codes)}
      />
      <h3 className="spaced">Turn it off</h3>
      {status.required_by ? (
        <p className="muted">It cannot be turned off: {status.required_by}.</p>
      ) : (
        <CodeForm
          name="disable"
          submit="Turn off the second factor"
          recovery
          onCode={async (proof: Proof) => {
            await call<void>("POST", "/api/v1/auth/mfa/disable", { body: proof });
            onDisabled();
          }}
        />
      )}
    </>
  );
}

/** Enrolling an authenticator app: the password (POST /api/v1/auth/mfa/enrollment), then the
 * new key, then a code from the app to confirm it (.../enrollment/confirm). */
function Enrol({ pending, onEnrolled }: { pending: boolean; onEnrolled: (codes: string[]) => void }) {
  const [password, setPassword] = useState("");
  const [enrollment, setEnrollment] = useState<Enrollment | null>(null);
  const begin = useAction();

  function start(event: FormEvent): void {
    event.preventDefault();
    void begin.run(async () => {
      setEnrollment(await call<Enrollment>("POST", "/api/v1/auth/mfa/enrollment", { body: { password } }));
      setPassword("");
    });
  }

  if (enrollment !== null) {
    return (
      <>
        <h3>Set up your authenticator app</h3>
        <EnrollmentKey enrollment={enrollment} />
        <h3 className="spaced">Confirm with a code</h3>
        <CodeForm
          name="confirm"
          submit="Confirm"
          onCode={async (proof) => onEnrolled((await call<RecoveryCodeList>("POST", "/api/v1/auth/mfa/enrollment/confirm", { body: proof })).recovery_codes)}
        />
      </>
    );
  }
  return (
    <form className="stacked" onSubmit={start} noValidate>
      <h3>Set up an authenticator app</h3>
      {pending && <p className="muted">A setup was started and not confirmed: start again for a new key.</p>}
      <Field
        name="enrol-password"
        label="Your password"
        type="password"
        value={password}
        onChange={setPassword}
        error={begin.invalid.password}
        autoComplete="current-password"
      />
      {begin.error !== null && <ProblemMessage error={begin.error} />}
      <div className="actions">
        <button type="submit" disabled={begin.busy}>
          {begin.busy ? "Preparing…" : "Set up"}
        </button>
      </div>
    </form>
  );
}

/** The login sessions: end one (DELETE /api/v1/auth/sessions/<id>) or all but this one
 * (POST /api/v1/auth/sessions/end-others). This one ends with Sign out. */
function Sessions({ sessions, onEnded }: { sessions: LoginSession[]; onEnded: () => void }) {
  const ending = useAction();
  const [ended, setEnded] = useState<string | null>(null);
  const others = sessions.filter((s) => !s.current).length;

  return (
    <>
      {ending.error !== null && <ProblemMessage error={ending.error} />}
      {ended !== null && (
        <p className="saved" role="status">
          {ended}
        </p>
      )}
      <div className="table-scroll">
        <table className="rows sessions">
          <thead>
            <tr>
              <th scope="col">Signed in</th>
              <th scope="col">Last used</th>
              <th scope="col">Browser</th>
              <th scope="col">Address</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((session) => (
              <tr key={session.id}>
                <th scope="row">{moment(session.created_at)}</th>
                <td>{moment(session.last_used_at)}</td>
                <td>{session.user_agent ?? "—"}</td>
                <td>{session.ip ?? "—"}</td>
                <td>
                  {session.current ? (
                    <strong>This session</strong>
                  ) : (
                    <button
                      type="button"
                      className="secondary"
                      disabled={ending.busy}
                      onClick={() =>
                        void ending.run(async () => {
                          await call<void>("DELETE", `/api/v1/auth/sessions/${session.id}`);
                          setEnded("The session is ended.");
                          onEnded();
                        })
                      }
                    >
                      End<span className="visually-hidden"> the session signed in {moment(session.created_at)}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {others > 0 && (
        <div className="actions">
          <button
            type="button"
            disabled={ending.busy}
            onClick={() =>
              void ending.run(async () => {
                const answer = await call<{ ended: number }>("POST", "/api/v1/auth/sessions/end-others");
                setEnded(`${answer.ended} other sessions ended.`);
                onEnded();
              })
            }
          >
            End all other sessions
          </button>
        </div>
      )}
    </>
  );
}

/** POST /api/v1/auth/password: the current password and the new one. */
function PasswordChange({ onOthersEnded }: { onOthersEnded: () => void }) {
  const [current, setCurrent] = useState("");
  const [chosen, setChosen] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const change = useAction();

  function submit(event: FormEvent): void {
    event.preventDefault();
    setDone(null);
    void change.run(async () => {
      const answer = await call<{ ended: number }>("POST", "/api/v1/auth/password", {
        body: { current_password: current, new_password: chosen },
      });
      setCurrent("");
      setChosen("");
      setDone(`Your password is changed; ${answer.ended} other sessions ended.`);
      onOthersEnded();
    });
  }

  return (
    <section className="section" aria-labelledby="password-heading">
      <h2 id="password-heading">Password</h2>
      <form className="stacked" onSubmit={submit} noValidate>
        <Field
          name="current_password"
          label="Current password"
          type="password"
          value={current}
          onChange={setCurrent}
          error={change.invalid.current_password}
          autoComplete="current-password"
        />
        <Field
          name="new_password"
          label="New password"
          type="password"
          value={chosen}
          onChange={setChosen}
          error={change.invalid.new_password}
          autoComplete="new-password"
        />
        <p className="muted">At least 12 characters; a common or easily guessed password is refused.</p>
        {change.error !== null && <ProblemMessage error={change.error} />}
        {done !== null && (
          <p className="saved" role="status">
            {done}
          </p>
        )}
        <div className="actions">
          <button type="submit" disabled={change.busy}>
            {change.busy ? "Changing…" : "Change password"}
          </button>
        </div>
      </form>
    </section>
  );
}
