import type { ScreenProps } from "../screens";

/** To be built. */
export function Analytics(_props: ScreenProps) {
  return <h1>Analytics</h1>;
}
