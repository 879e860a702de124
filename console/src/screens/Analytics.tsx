import { type FormEvent, useState } from "react";

import { ApiError, download, fieldErrors } from "../api";
import { Pending } from "../Pending";
import { ProblemMessage } from "../ProblemMessage";
import type { ScreenProps } from "../screens";
import { useGet } from "../useGet";
import { label, score } from "../words";
import { utcDay } from "./AuditTrail";
import { Chart, TableScroll } from "./Chart";

/** One period as GET /api/v1/admin/organizations/{id}/analytics gives it (PeriodSchema). */
interface Period {
  start: string;
  orders: number;
  /** Money: a decimal string, "125.50". */
  revenue: string;
  ordering_providers: number;
  active_providers: number;
  provider_activity_rate: number | null;
  compliance_score: number | null;
  order_growth: number | null;
  revenue_growth: number | null;
}

interface FacilityUse {
  facility_id: string;
  name: string;
  orders: number;
  share: number;
}

/** AnalyticsSchema. */
interface Report {
  start: string;
  end: string;
  interval: string;
  total_orders: number;
  total_revenue: string;
  periods: Period[];
  facilities: FacilityUse[];
}

// The API's INTERVALS (app/domain/analytics.py).
const INTERVALS = ["day", "week", "month"];
const DAY_MS = 86_400_000;

interface Query {
  from: string;
  to: string;
  interval: string;
  include_descendants: boolean;
}

export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

function growth(value: number | null): string {
  return value === null ? "—" : `${value > 0 ? "+" : ""}${value}%`;
}

function queryOf(query: Query, extra: Record<string, string> = {}): string {
  return new URLSearchParams({ ...query, include_descendants: String(query.include_descendants), ...extra }).toString();
}

/** Order volume, revenue, provider activity, compliance trend and facility utilization over
 * a range of days by day, week or month, as charts with their figures, and as the API's
 * CSV of the periods. */
export function Analytics({ organizationId, organizationName }: ScreenProps) {
  const today = new Date();
  const [typed, setTyped] = useState<Query>({
    from: utcDay(new Date(today.getTime() - 30 * DAY_MS)),
    to: utcDay(today),
    interval: "week",
    include_descendants: true,
  });
  const [query, setQuery] = useState<Query>(typed);
  const path = `/api/v1/admin/organizations/${encodeURIComponent(organizationId)}/analytics`;
  const [loaded, reload] = useGet<Report>(`${path}?${queryOf(query)}`);
  const [downloadError, setDownloadError] = useState<unknown>(null);
  const failed = loaded.state === "failed" ? loaded.error : downloadError;
  const refused = failed instanceof ApiError ? fieldErrors(failed.problem) : {};

  function show(event: FormEvent): void {
    event.preventDefault();
    setDownloadError(null);
    setQuery(typed);
  }

  async function downloadCsv(): Promise<void> {
    setDownloadError(null);
    try {
      // The API's own CSV of the periods shown (the range as last shown, not as typed).
      await download(`${path}?${queryOf(query, { format: "csv" })}`, "analytics.csv");
    } catch (caught) {
      setDownloadError(caught);
    }
  }

  function describedBy(name: string): Record<string, unknown> {
    return {
      "aria-invalid": refused[name] !== undefined,
      "aria-describedby": refused[name] !== undefined ? `analytics-${name}-error` : undefined,
    };
  }

  function error(name: string) {
    return (
      refused[name] !== undefined && (
        <p id={`analytics-${name}-error`} className="field-error">
          {refused[name]}
        </p>
      )
    );
  }

  return (
    <>
      <h1>Analytics of {organizationName}</h1>
      <form className="fields" aria-label="Range of the report" onSubmit={show}>
        <div className="field">
          <label htmlFor="analytics-from">From</label>
          <input id="analytics-from" type="date" value={typed.from} onChange={(event) => setTyped({ ...typed, from: event.target.value })} {...describedBy("from")} />
          {error("from")}
        </div>
        <div className="field">
          <label htmlFor="analytics-to">To</label>
          <input id="analytics-to" type="date" value={typed.to} onChange={(event) => setTyped({ ...typed, to: event.target.value })} {...describedBy("to")} />
          {error("to")}
        </div>
        <div className="field">
          <label htmlFor="analytics-interval">By</label>
          <select id="analytics-interval" value={typed.interval} onChange={(event) => setTyped({ ...typed, interval: event.target.value })} {...describedBy("interval")}>
            {INTERVALS.map((interval) => (
              <option key={interval} value={interval}>
                {label(interval)}
              </option>
            ))}
          </select>
          {error("interval")}
        </div>
        <div className="field check">
          <input
            id="analytics-descendants"
            type="checkbox"
            checked={typed.include_descendants}
            onChange={(event) => setTyped({ ...typed, include_descendants: event.target.checked })}
          />
          <label htmlFor="analytics-descendants">With child organizations</label>
        </div>
        <button type="submit">Show</button>
        <button type="button" className="secondary" disabled={loaded.state !== "shown"} onClick={() => void downloadCsv()}>
          Download CSV
        </button>
      </form>
      {downloadError !== null && <ProblemMessage error={downloadError} />}
      <Pending loaded={loaded} onRetry={reload}>Loading the figures…</Pending>
      {loaded.state === "shown" && <Shown report={loaded.data} />}
    </>
  );
}

function Shown({ report }: { report: Report }) {
  const periods = report.periods;
  const by = (value: (period: Period) => number | null) => periods.map((period) => ({ label: period.start, value: value(period) }));
  return (
    <>
      <p className="muted">
        From {report.start} to {report.end}, by {report.interval}.
      </p>
      <dl className="figures">
        <div className="figure">
          <dt>Orders</dt>
          <dd>{report.total_orders}</dd>
        </div>
        <div className="figure">
          <dt>Revenue</dt>
          <dd>{report.total_revenue}</dd>
        </div>
      </dl>
      <h2>By {report.interval}</h2>
      {periods.length === 0 ? (
        <p className="empty">No period in this range.</p>
      ) : (
        <>
          <div className="charts">
            <Chart id="chart-orders" title="Orders" kind="bar" whole points={by((p) => p.orders)} format={String} />
            <Chart id="chart-revenue" title="Revenue" kind="bar" points={by((p) => Number(p.revenue))} format={(value) => value.toFixed(2)} />
            <Chart
              id="chart-activity"
              title="Provider activity rate"
              kind="line"
              max={1}
              points={by((p) => p.provider_activity_rate)}
              format={percent}
            />
            <Chart id="chart-compliance" title="Compliance score" kind="line" max={100} points={by((p) => p.compliance_score)} format={(value) => `${value}%`} />
          </div>
          <details className="figures-table" open>
            <summary>Figures by {report.interval}</summary>
            <TableScroll label="Figures by period">
              <table className="records periods">
                <thead>
                  <tr>
                    <th scope="col">Period from</th>
                    <th scope="col" className="number">Orders</th>
                    <th scope="col" className="number">Order growth</th>
                    <th scope="col" className="number">Revenue</th>
                    <th scope="col" className="number">Revenue growth</th>
                    <th scope="col" className="number">Ordering providers</th>
                    <th scope="col" className="number">Active providers</th>
                    <th scope="col" className="number">Activity rate</th>
                    <th scope="col" className="number">Compliance score</th>
                  </tr>
                </thead>
                <tbody>
                  {periods.map((period) => (
                    <tr key={period.start}>
                      <th scope="row">{period.start}</th>
                      <td className="number">{period.orders}</td>
                      <td className="number">{growth(period.order_growth)}</td>
                      <td className="number">{period.revenue}</td>
                      <td className="number">{growth(period.revenue_growth)}</td>
                      <td className="number">{period.ordering_providers}</td>
                      <td className="number">{period.active_providers}</td>
                      <td className="number">{period.provider_activity_rate === null ? "—" : percent(period.provider_activity_rate)}</td>
                      <td className="number">{score(period.compliance_score)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableScroll>
          </details>
        </>
      )}
      <h2>Facility utilization</h2>
      {report.facilities.length === 0 ? (
        <p className="empty">No facility in this organization yet.</p>
      ) : (
        <>
          <div className="charts">
            <Chart
              id="chart-facilities"
              title="Orders by facility"
              kind="bar"
              whole
              points={report.facilities.map((facility) => ({ label: facility.name, value: facility.orders }))}
              format={String}
            />
          </div>
          <TableScroll label="Facility utilization">
            <table className="records facilities">
              <thead>
                <tr>
                  <th scope="col">Facility</th>
                  <th scope="col" className="number">Orders</th>
                  <th scope="col" className="number">Share</th>
                </tr>
              </thead>
              <tbody>
                {report.facilities.map((facility) => (
                  <tr key={facility.facility_id}>
                    <th scope="row">{facility.name}</th>
                    <td className="number">{facility.orders}</td>
                    <td className="number">{percent(facility.share)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        </>
      )}
    </>
  );
}
