import type { ScreenProps } from "../screens";

/** To be built. */
export function Security(_props: ScreenProps) {
  return <h1>Security</h1>;
}
