import type { ScreenProps } from "../screens";

/** To be built. */
export function Documents(_props: ScreenProps) {
  return <h1>Documents</h1>;
}
