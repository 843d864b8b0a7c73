import { Wallet, getAddress } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  BundlerClient,
  NATIVE,
  accountFactoryAt,
  deviceAccountAt,
  deviceIdOfKey,
  requireDeviceTrustContract,
  openKeyStore,
  parseAmount,
  readAccountFile,
  resolveDeployedAddress,
  tokenInfo,
  walletHashSigner,
  type AccountFile,
  type AccountSigners,
  type AssetInfo,
  type OperationRoute,
} from "../../src/client/index.js";
import type { KeyStore } from "../../src/device/key-store.js";
import { InvalidInputError, asHex, type Hex } from "../../src/protocol/index.js";
import {
  keyStoreOptions,
  progress,
  secret,
  type Chain,
  type ChainArgs,
  type KeyArgs,
  type WeiArgs,
} from "../common.js";

/** Shared by the account tasks: the factory, the account file, the signers and the route. Not a task. */

export const OPERATOR_KEY_ENV = "DEVICETRUST_OPERATOR_KEY";

export interface AccountChainArgs extends ChainArgs {
  /** Folder of the account files (create writes, pay reads them for the first UserOperation). */
  readonly accountsDir: string;
}

export interface AccountArgs extends AccountChainArgs {
  readonly account: string;
}

export interface RouteArgs extends AccountArgs, KeyArgs, WeiArgs {
  /** An ERC-4337 bundler's URL; "" sends handleOps from --from. */
  readonly bundler: string;
  readonly operatorKey: string;
}

/** The DeviceAccountFactory: --factory, else the one Ignition recorded for the chain. */
export async function connectFactory(
  hre: HardhatRuntimeEnvironment,
  chain: Chain,
  factory: string,
) {
  const { chainId } = await chain.ethers.provider.getNetwork();
  const address = await resolveDeployedAddress({
    contract: "DeviceAccountFactory",
    option: "--factory",
    explicit: factory,
    ...chain.deployment,
  });
  await requireDeviceTrustContract(
    chain.ethers.provider,
    address,
    "DeviceAccountFactory",
    "--factory",
  );
  const contract = accountFactoryAt(address, chain.signer);
  const implementation = deviceAccountAt(await contract.IMPLEMENTATION(), chain.ethers.provider);
  const verifier = getAddress(await implementation.VERIFIER()) as Hex;
  progress(`DeviceAccountFactory ${address}, verifier ${verifier}`);
  return { address, contract, verifier, chainId };
}

export function accountArg(value: string): Hex {
  if (value === "") throw new InvalidInputError("name the account: --account <address>");
  return getAddress(asHex(value, "--account", 20)) as Hex;
}

/** "native" (or the zero address) for the native coin, else an ERC-20 address. */
export function assetArg(value: string): Hex {
  if (value === "")
    throw new InvalidInputError('name the asset: --asset <ERC-20 address> or "native"');
  if (value.toLowerCase() === "native") return NATIVE;
  return getAddress(asHex(value, "--asset", 20)) as Hex;
}

/** The asset's symbol and decimals (the native coin: 18). */
export async function assetInfo(chain: Chain, asset: Hex): Promise<AssetInfo> {
  if (asset === NATIVE) return { address: NATIVE, symbol: "native", decimals: 18 };
  return tokenInfo(asset, chain.ethers.provider);
}

/** An amount of `asset` in token units (its decimals), or in base units with --wei. */
export function amountArg(value: string, asset: AssetInfo, args: WeiArgs, what: string): bigint {
  return parseAmount(value, asset, args.wei, what);
}

/** The signers: the device key (--key-file, or --token/--label) and/or the operator's key. */
export async function openSigners(
  hre: HardhatRuntimeEnvironment,
  chain: Chain,
  args: RouteArgs,
  verifier: Hex,
  operatorRequired: boolean,
): Promise<{ signers: AccountSigners; close: () => Promise<void> }> {
  let store: KeyStore | undefined;
  if (args.keyFile !== "" || args.token !== "") {
    store = await openKeyStore(await keyStoreOptions(hre, args));
  }
  try {
    const devices =
      store === undefined ? [] : [{ deviceId: await deviceIdOfKey(chain.registry, store), store }];
    let operatorKey = args.operatorKey;
    if (operatorKey === "" && (operatorRequired || store === undefined)) {
      operatorKey = await secret(hre, "", OPERATOR_KEY_ENV, "operator key", "--operator-key");
    } else if (operatorKey === "") {
      operatorKey = process.env[OPERATOR_KEY_ENV] ?? "";
    }
    const operator =
      operatorKey === ""
        ? undefined
        : walletHashSigner(new Wallet(asHex(operatorKey, "--operator-key", 32)));
    if (operator !== undefined) progress(`the operator ${operator.address} signs`);
    for (const d of devices) progress(`device ${d.deviceId} signs (${d.store.kind} key)`);
    return {
      signers: { verifier, devices, operator },
      close: async () => {
        await store?.close();
      },
    };
  } catch (err: unknown) {
    await store?.close();
    throw err;
  }
}

/** The account's verifier, its account file (while it has no code) and how operations leave. */
export async function accountRoute(
  hre: HardhatRuntimeEnvironment,
  chain: Chain,
  args: RouteArgs,
  operatorRequired = false,
): Promise<{ account: Hex; route: OperationRoute; close: () => Promise<void> }> {
  const account = accountArg(args.account);
  const provider = chain.ethers.provider;
  const { chainId } = await provider.getNetwork();
  let file: AccountFile | undefined;
  let verifier: Hex;
  if ((await provider.getCode(account)) !== "0x") {
    verifier = getAddress(await deviceAccountAt(account, provider).VERIFIER()) as Hex;
  } else {
    file = await readAccountFile(args.accountsDir, chainId, account);
    if (file === undefined) {
      throw new InvalidInputError(
        `account ${account} is not deployed and ${args.accountsDir} has no account file for it on chain ${chainId.toString()}: create it with account create (or pass --accounts-dir)`,
      );
    }
    const implementation = await accountFactoryAt(file.factory, provider).IMPLEMENTATION();
    verifier = getAddress(await deviceAccountAt(implementation, provider).VERIFIER()) as Hex;
    progress(`account ${account} is not deployed: its first UserOperation deploys it (initCode)`);
  }
  const { signers, close } = await openSigners(hre, chain, args, verifier, operatorRequired);
  const bundler = args.bundler === "" ? undefined : new BundlerClient(args.bundler);
  progress(
    bundler === undefined
      ? `sending through EntryPoint.handleOps from ${chain.signer.address} (no --bundler)`
      : `sending through the bundler at ${bundler.url}`,
  );
  return {
    account,
    route: {
      provider,
      signers,
      bundler,
      wallet: chain.signer,
      accountFile: file,
      onProgress: progress,
    },
    close,
  };
}
