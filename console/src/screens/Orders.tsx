import type { ScreenProps } from "../screens";

/** To be built. */
export function Orders(_props: ScreenProps) {
  return <h1>Orders</h1>;
}
