import type { ScreenProps } from "../screens";

/** To be built. */
export function Onboarding(_props: ScreenProps) {
  return <h1>Onboarding</h1>;
}
