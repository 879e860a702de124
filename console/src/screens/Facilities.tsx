import type { ScreenProps } from "../screens";

/** To be built. */
export function Facilities(_props: ScreenProps) {
  return <h1>Facilities</h1>;
}
