import type { ScreenProps } from "../screens";

/** To be built. */
export function Profile(_props: ScreenProps) {
  return <h1>Profile</h1>;
}
