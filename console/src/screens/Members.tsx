import type { ScreenProps } from "../screens";

/** To be built. */
export function Members(_props: ScreenProps) {
  return <h1>Members</h1>;
}
