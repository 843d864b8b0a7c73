import { buildDeviceTrustModule } from "./DeviceTrust.js";

/**
 * The system on a local chain (a `hardhat node`): a MockERC20 collateral anyone mints (`token mint`),
 * handed over to the `governance` of deploy/parameters/localhost.json (account 1 of the node), as a
 * public deployment is to its governance.
 */
export default buildDeviceTrustModule({ collateral: "mock" });
