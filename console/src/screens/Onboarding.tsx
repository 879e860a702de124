import { useState } from "react";

import { call } from "../api";
import { Pending } from "../Pending";
import { ProblemMessage } from "../ProblemMessage";
import { Link } from "../router";
import { findScreen, mayOpen, type ScreenProps } from "../screens";
import type { Me, OnboardingProgress, OnboardingStepState } from "../types";
import { useGet } from "../useGet";
import { label, moment } from "../words";
import "./Onboarding.css";

// Where the data a step waits for is entered (the screen's path), for the steps that
// follow their data.
const DONE_IN: Record<string, string> = {
  tax_documentation: "documents",
  banking_setup: "documents",
  add_facilities: "facilities",
  invite_office_managers: "invitations",
  provider_invitations: "invitations",
};

// What completing a manual step does besides (app/domain/onboarding.py).
const MANUAL_MEANING: Record<string, string> = {
  training_and_certification: "Complete it once the organization's staff are trained and certified.",
  go_live: "Going live activates the organization and closes its onboarding.",
};

/** The organization's onboarding steps: GET /api/v1/admin/organizations/<id>/onboarding,
 * and the manual ones completed or reopened (POST .../steps/<step>/complete|reopen). */
export function Onboarding({ me, organizationId, organizationName }: ScreenProps) {
  const path = `/api/v1/admin/organizations/${encodeURIComponent(organizationId)}/onboarding`;
  const [loaded, reload] = useGet<OnboardingProgress>(path);
  const [changed, setChanged] = useState<OnboardingProgress | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const shown = changed ?? (loaded.state === "shown" ? loaded.data : null);
  const mayComplete = me.permissions.includes("manage-facilities");

  async function act(step: OnboardingStepState, action: "complete" | "reopen"): Promise<void> {
    setBusy(step.step);
    setError(null);
    setDone(null);
    try {
      const progress = await call<OnboardingProgress>("POST", `${path}/steps/${encodeURIComponent(step.step)}/${action}`);
      setChanged(progress);
      setDone(`${label(step.step)} ${action === "complete" ? "completed" : "reopened"}: ${progress.percent_complete}% complete.`);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(null);
    }
  }

  return (
    <>
      <h1>Onboarding of {organizationName}</h1>
      <Pending loaded={loaded} onRetry={reload}>Loading the onboarding…</Pending>
      {shown !== null && (
        <>
          <div className="onboarding-summary">
            <label htmlFor="onboarding-percent">
              {label(shown.onboarding_status)}: <strong>{shown.percent_complete}% complete</strong>
            </label>
            <progress id="onboarding-percent" max={100} value={shown.percent_complete}>
              {shown.percent_complete}%
            </progress>
            <p className="muted">
              {shown.next_step === null ? "Every step is complete." : `Next step: ${label(shown.next_step)}.`}
            </p>
          </div>
          <div aria-live="polite">
            {done !== null && <p className="notice">{done}</p>}
          </div>
          {error !== null && <ProblemMessage error={error} />}
          <ol className="onboarding-steps">
            {shown.steps.map((step) => (
              <Step
                key={step.step}
                me={me}
                step={step}
                live={shown.onboarding_status === "completed"}
                mayComplete={mayComplete}
                busy={busy}
                onAct={(action) => void act(step, action)}
              />
            ))}
          </ol>
        </>
      )}
    </>
  );
}

function Step({
  me,
  step,
  live,
  mayComplete,
  busy,
  onAct,
}: {
  me: Me;
  step: OnboardingStepState;
  live: boolean;
  mayComplete: boolean;
  busy: string | null;
  onAct: (action: "complete" | "reopen") => void;
}) {
  const name = label(step.step);
  const where = DONE_IN[step.step];
  const screen = where === undefined ? undefined : findScreen(where);
  return (
    <li className={step.completed ? "onboarding-step done" : "onboarding-step to-do"}>
      <div className="step-head">
        <h2>{name}</h2>
        <span className={step.completed ? "step-badge done" : "step-badge to-do"}>
          {step.completed ? "Done" : "To do"}
        </span>
      </div>
      {step.completed && step.completed_at !== null && (
        <p className="muted">
          Done <time dateTime={step.completed_at}>{moment(step.completed_at)}</time>
          {step.manual ? " (completed by hand)" : ""}
        </p>
      )}
      {!step.completed && step.requirement !== null && <p>Needs {step.requirement}.</p>}
      {!step.completed && step.manual && <p>{MANUAL_MEANING[step.step]}</p>}
      {!step.completed && screen !== undefined && mayOpen(screen, me, true) && (
        <p>
          <Link to={screen.path}>Go to {screen.title.toLowerCase()}</Link>
        </p>
      )}
      {step.manual && mayComplete && (
        <div className="actions">
          {!step.completed && (
            <button type="button" disabled={busy !== null} onClick={() => onAct("complete")}>
              {busy === step.step ? "Completing…" : `Complete ${name.toLowerCase()}`}
            </button>
          )}
          {step.completed && !live && (
            <button type="button" className="secondary" disabled={busy !== null} onClick={() => onAct("reopen")}>
              {busy === step.step ? "Reopening…" : `Reopen ${name.toLowerCase()}`}
            </button>
          )}
        </div>
      )}
    </li>
  );
}
