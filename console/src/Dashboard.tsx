import { Pending } from "./Pending";
import type { Dashboard as DashboardData, FacilityCard, OnboardingProgress } from "./types";
import { useGet } from "./useGet";
import { label, moment, score } from "./words";

/** The spec's Organization Dashboard: GET /api/v1/admin/organizations/{id}/dashboard. */
export function Dashboard({ organizationId, organizationName }: { organizationId: string; organizationName: string }) {
  const [loaded, reload] = useGet<DashboardData>(
    `/api/v1/admin/organizations/${encodeURIComponent(organizationId)}/dashboard`,
  );

  return (
    <>
      <h1>{organizationName}</h1>
      <Pending loaded={loaded} onRetry={reload}>Loading the dashboard…</Pending>
      {loaded.state === "shown" && <Shown data={loaded.data} />}
    </>
  );
}

function Shown({ data }: { data: DashboardData }) {
  const overview = data.overview;
  const figures: [string, string][] = [
    ["Facilities", String(overview.total_facilities)],
    ["Providers", String(overview.total_providers)],
    ["Active orders", String(overview.active_orders)],
    ["Compliance score", score(overview.compliance_score)],
    ["Document compliance", score(overview.document_compliance_score)],
    ["Excluded providers", String(overview.excluded_providers)],
    ["Exclusion matches to review", String(overview.open_exclusion_candidates)],
  ];
  return (
    <>
      <section aria-labelledby="overview">
        <h2 id="overview">Overview</h2>
        <dl className="figures">
          {figures.map(([name, value]) => (
            <div key={name} className="figure">
              <dt>{name}</dt>
              <dd>{value}</dd>
            </div>
          ))}
        </dl>
      </section>
      <div className="columns">
        <section aria-labelledby="facilities">
          <h2 id="facilities">Facilities</h2>
          {data.facilities.length === 0 ? (
            <p className="empty">No facilities yet. Facilities added to the organization appear here.</p>
          ) : (
            <ul className="cards">
              {data.facilities.map((facility) => (
                <Facility key={facility.id} facility={facility} />
              ))}
            </ul>
          )}
        </section>
        <section aria-labelledby="onboarding">
          <h2 id="onboarding">Onboarding</h2>
          <Onboarding progress={data.onboarding_progress} />
        </section>
      </div>
      <section aria-labelledby="activity">
        <h2 id="activity">Recent activity</h2>
        {data.recent_activity.length === 0 ? (
          <p className="empty">Nothing has happened yet.</p>
        ) : (
          <ol className="activity">
            {data.recent_activity.map((activity) => (
              <li key={`${activity.table_name}-${activity.row_id}-${activity.occurred_at}`}>
                <time dateTime={activity.occurred_at}>{moment(activity.occurred_at)}</time>
                <span>{activity.summary}</span>
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}

function Facility({ facility }: { facility: FacilityCard }) {
  return (
    <li className="card">
      <h3>{facility.name}</h3>
      <p className={facility.active ? "status active" : "status inactive"}>
        {facility.active ? "Active" : "Inactive"}
      </p>
      <dl>
        <div>
          <dt>Providers</dt>
          <dd>{facility.providers}</dd>
        </div>
        <div>
          <dt>Active orders</dt>
          <dd>{facility.active_orders}</dd>
        </div>
        <div>
          <dt>Compliance</dt>
          <dd>{score(facility.compliance_score)}</dd>
        </div>
      </dl>
    </li>
  );
}

function Onboarding({ progress }: { progress: OnboardingProgress }) {
  return (
    <>
      <p>
        <label htmlFor="onboarding-progress">
          {label(progress.onboarding_status)}: {progress.percent_complete}% complete
        </label>
      </p>
      <progress id="onboarding-progress" max={100} value={progress.percent_complete}>
        {progress.percent_complete}%
      </progress>
      <ol className="steps">
        {progress.steps.map((step) => (
          <li key={step.step} className={step.completed ? "done" : "to-do"}>
            <span className="step-name">{label(step.step)}</span>{" "}
            <span className="step-state">{step.completed ? "done" : "to do"}</span>
            {!step.completed && step.requirement && <p className="muted">{step.requirement}</p>}
          </li>
        ))}
      </ol>
    </>
  );
}
