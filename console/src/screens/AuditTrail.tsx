import type { ScreenProps } from "../screens";

/** To be built. */
export function AuditTrail(_props: ScreenProps) {
  return <h1>AuditTrail</h1>;
}
