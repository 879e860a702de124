import type { ScreenProps } from "../screens";

/** To be built. */
export function Invitations(_props: ScreenProps) {
  return <h1>Invitations</h1>;
}
