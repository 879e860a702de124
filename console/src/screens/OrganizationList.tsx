import { Dashboard } from "../Dashboard";
import { Organizations } from "../Organizations";
import { Link, navigate } from "../router";
import type { ScreenProps } from "../screens";
import { useGet } from "../useGet";
import type { Organization } from "../types";
import { ProblemMessage } from "../ProblemMessage";

/** MSC admins: the organizations across tenants (/console/organizations) and one of them
 * entered (/console/organizations/<id>). */
export function OrganizationList({ rest }: ScreenProps) {
  const [id] = rest;
  if (id === undefined) return <Organizations onEnter={(organization) => navigate(`organizations/${organization.id}`)} />;
  return <Entered id={id} />;
}

function Entered({ id }: { id: string }) {
  const [loaded, reload] = useGet<Organization>(`/api/v1/admin/organizations/${encodeURIComponent(id)}`);
  return (
    <>
      <p>
        <Link to="organizations" className="back">
          ← All organizations
        </Link>
      </p>
      {loaded.state === "loading" && (
        <p role="status" className="muted">
          Loading the organization…
        </p>
      )}
      {loaded.state === "failed" && <ProblemMessage error={loaded.error} onRetry={reload} />}
      {loaded.state === "shown" && <Dashboard organizationId={loaded.data.id} organizationName={loaded.data.name} />}
    </>
  );
}
