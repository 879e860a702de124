import type { ScreenProps } from "../screens";

/** To be built. */
export function Providers(_props: ScreenProps) {
  return <h1>Providers</h1>;
}
