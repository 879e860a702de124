import { call } from "../api";
import { Pending } from "../Pending";
import { ProblemMessage } from "../ProblemMessage";
import { useGet } from "../useGet";
import { label } from "../words";
import "./Profile.css";
import { useAction } from "./ProfileAction";
import type { Assignment } from "./ProfileTypes";

// More assignments than anyone has; the API's page size at most.
const PAGE_SIZE = 100;

/** Where the provider works, at every organization (GET /api/v1/me/facilities), and the
 * choice of their primary facility among the active ones (POST /api/v1/me/primary-facility). */
export function ProfileFacilities({ canChoose }: { canChoose: boolean }) {
  const [loaded, reload] = useGet<Assignment[]>(`/api/v1/me/facilities?page_size=${PAGE_SIZE}`);
  const choice = useAction();
  const primary = loaded.state === "shown" ? loaded.data.find((a) => a.is_primary) : undefined;

  return (
    <section className="section" aria-labelledby="facilities-heading">
      <h2 id="facilities-heading">Your facilities</h2>
      <Pending loaded={loaded} onRetry={reload}>Loading your facilities…</Pending>
      {choice.error !== null && <ProblemMessage error={choice.error} />}
      {loaded.state === "shown" &&
        (loaded.data.length === 0 ? (
          <p className="empty">You are not assigned to any facility yet.</p>
        ) : (
          <>
            <p role="status">
              {primary === undefined ? "You have no primary facility." : `Your primary facility: ${primary.facility_name} (${primary.organization_name}).`}
            </p>
            <div className="table-scroll">
              <table className="rows facilities">
                <thead>
                  <tr>
                    <th scope="col">Facility</th>
                    <th scope="col">Organization</th>
                    <th scope="col">Status</th>
                    <th scope="col">From</th>
                    <th scope="col">Until</th>
                    <th scope="col">Primary</th>
                  </tr>
                </thead>
                <tbody>
                  {loaded.data.map((assignment) => (
                    <tr key={assignment.id}>
                      <th scope="row">{assignment.facility_name}</th>
                      <td>{assignment.organization_name}</td>
                      <td>
                        <span className={`badge ${assignment.status}`}>{label(assignment.status)}</span>
                      </td>
                      <td>{assignment.start_date}</td>
                      <td>{assignment.end_date ?? "—"}</td>
                      <td>
                        {assignment.is_primary ? (
                          "Primary"
                        ) : canChoose && assignment.status === "active" ? (
                          <button
                            type="button"
                            className="secondary"
                            disabled={choice.busy}
                            onClick={() =>
                              void choice.run(async () => {
                                await call<Assignment>("POST", "/api/v1/me/primary-facility", { body: { assignment_id: assignment.id } });
                                reload();
                              })
                            }
                          >
                            Make primary<span className="visually-hidden"> {assignment.facility_name}</span>
                          </button>
                        ) : (
                          "—"
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        ))}
    </section>
  );
}
