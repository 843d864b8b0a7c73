import { emptyTask, task } from "hardhat/config";
import { ArgumentType } from "hardhat/types/arguments";
import type { NewTaskDefinitionBuilder, TaskArguments } from "hardhat/types/tasks";

/**
 * The operator and maker CLI. Each task is a thin adapter (tasks/<noun>/<verb>.ts) over a function in
 * src/client; actions load lazily, so loading the config never loads ethers, typechain or pkcs11js.
 * Every chain task takes --registry (default: Ignition's deployment for the chain), --from (sending
 * account), --json; progress goes to stderr and errors exit non-zero with a decoded sentence.
 */

const json = {
  name: "json",
  description: "Print machine-readable JSON (bigint as decimal strings)",
} as const;
const registry = {
  name: "registry",
  description:
    "DeviceRegistry address (default: the Ignition deployment's, deploy/deployments/chain-<id> or --deployment-id)",
  defaultValue: "",
} as const;
const deploymentId = {
  name: "deploymentId",
  description:
    "Ignition deployment to read addresses from, as given to ignition deploy --deployment-id (default: chain-<id>)",
  defaultValue: "",
} as const;
const from = {
  name: "from",
  description: "Sending account: address or account index (default: the first account)",
  defaultValue: "",
} as const;
/** The options of every chain task: --registry, --deployment-id, --from, --json. */
function withChainOptions<T extends TaskArguments>(builder: NewTaskDefinitionBuilder<T>) {
  return builder.addOption(registry).addOption(deploymentId).addOption(from).addFlag(json);
}

const deviceId = {
  name: "deviceId",
  description: "The device's id (bytes32)",
  defaultValue: "",
} as const;
const keyFile = {
  name: "keyFile",
  description: "The device's key file (device keygen --keystore file)",
  defaultValue: "",
} as const;
const password = {
  name: "password",
  description: "Key file password (else $DEVICETRUST_KEY_PASSWORD or hardhat-keystore)",
  defaultValue: "",
} as const;
const pkcs11Module = {
  name: "module",
  description: "PKCS#11 library (default: $DEVICETRUST_PKCS11_MODULE or SoftHSM2)",
  defaultValue: "",
} as const;
const token = { name: "token", description: "PKCS#11 token label", defaultValue: "" } as const;
const pin = {
  name: "pin",
  description: "PKCS#11 user PIN (else $DEVICETRUST_PKCS11_PIN or hardhat-keystore)",
  defaultValue: "",
} as const;
const label = { name: "label", description: "PKCS#11 key label", defaultValue: "" } as const;
/** The second key of a rotation; its PKCS#11 library is the one --module names. */
const newKeyStore = [
  { name: "newKeyFile", description: "The new key file (device keygen)", defaultValue: "" },
  {
    name: "newPassword",
    description: "New key file password (else $DEVICETRUST_KEY_PASSWORD)",
    defaultValue: "",
  },
  { name: "newToken", description: "PKCS#11 token of the new key", defaultValue: "" },
  {
    name: "newPin",
    description: "PIN of the new key's token (else $DEVICETRUST_PKCS11_PIN)",
    defaultValue: "",
  },
  { name: "newLabel", description: "PKCS#11 label of the new key", defaultValue: "" },
] as const;

interface KeyStoreArgs {
  keyFile: string;
  password: string;
  module: string;
  token: string;
  pin: string;
  label: string;
}
interface NewKeyStoreArgs {
  newKeyFile: string;
  newPassword: string;
  newToken: string;
  newPin: string;
  newLabel: string;
}

/**
 * The options keyStoreOptions (tasks/common.ts) reads to open a device key: --key-file and --password,
 * or PKCS#11's --module, --token, --pin and --label. Every task that signs with a device key declares
 * them here, so their names and help cannot drift apart. Prefix "new" declares the second key of a
 * rotation (--new-key-file, --new-password, --new-token, --new-pin, --new-label: keyStoreOptions with
 * prefix "new-"); `keyFileDescription` says which key --key-file is when "the device's" is not enough.
 */
function withKeyStoreOptions<T extends TaskArguments>(
  builder: NewTaskDefinitionBuilder<T>,
  prefix?: "",
  keyFileDescription?: string,
): NewTaskDefinitionBuilder<KeyStoreArgs & T>;
function withKeyStoreOptions<T extends TaskArguments>(
  builder: NewTaskDefinitionBuilder<T>,
  prefix: "new",
): NewTaskDefinitionBuilder<NewKeyStoreArgs & T>;
function withKeyStoreOptions<T extends TaskArguments>(
  builder: NewTaskDefinitionBuilder<T>,
  prefix: "" | "new" = "",
  keyFileDescription: string = keyFile.description,
): NewTaskDefinitionBuilder<KeyStoreArgs & T> | NewTaskDefinitionBuilder<NewKeyStoreArgs & T> {
  if (prefix === "new") {
    const [file, secret, pkcs11Token, pkcs11Pin, pkcs11Label] = newKeyStore;
    return builder
      .addOption(file)
      .addOption(secret)
      .addOption(pkcs11Token)
      .addOption(pkcs11Pin)
      .addOption(pkcs11Label);
  }
  return builder
    .addOption({ ...keyFile, description: keyFileDescription })
    .addOption(password)
    .addOption(pkcs11Module)
    .addOption(token)
    .addOption(pin)
    .addOption(label);
}
const deadline = {
  name: "deadline",
  description: "Seconds from now until the device's signature expires",
  type: ArgumentType.INT,
  defaultValue: 3600,
} as const;

const images = {
  name: "images",
  description:
    "Firmware image files in boot order, comma-separated (bootloader,kernel,application)",
  defaultValue: "",
} as const;
// Not --version: Hardhat reads --version anywhere on the command line as its own flag.
const firmwareVersion = {
  name: "firmwareVersion",
  description: "Firmware version (release name)",
  defaultValue: "",
} as const;
const firmwareId = {
  name: "id",
  description: "Firmware id (or name it by --model and --firmware-version)",
  type: ArgumentType.INT,
  defaultValue: 0,
} as const;
const firmwareMaker = {
  name: "maker",
  description: "Maker id with --model/--firmware-version (default: the sender's maker)",
  type: ArgumentType.INT,
  defaultValue: 0,
} as const;
const firmwareModel = {
  name: "model",
  description: "Device model, with --firmware-version",
  type: ArgumentType.INT,
  defaultValue: -1,
} as const;

// ------------------------------------------------------------ post-quantum options
const lmsKey = {
  name: "lmsKey",
  description: "The maker's LMS key file (maker lms-keygen); its state file is beside it",
  defaultValue: "",
} as const;
const lmsPassword = {
  name: "password",
  description: "LMS key file password (else $DEVICETRUST_KEY_PASSWORD or hardhat-keystore)",
  defaultValue: "",
} as const;
const firmwareSignatures = {
  name: "firmwareSignatures",
  description: "FirmwareSignatures address (default: the Ignition deployment for the chain)",
  defaultValue: "",
} as const;
const pqKeyRecovery = {
  name: "pqKeyRecovery",
  description: "PqKeyRecovery address (default: the Ignition deployment for the chain)",
  defaultValue: "",
} as const;
const pqKey = {
  name: "pqKey",
  description:
    "The post-quantum key file: an LMS key file (maker lms-keygen), or an ML-DSA-44 key as PEM (or its raw public key as hex)",
  defaultValue: "",
} as const;
const pqPassword = {
  name: "pqPassword",
  description:
    "Password of --pq-key (an LMS key file, or an encrypted ML-DSA-44 PEM; else $DEVICETRUST_KEY_PASSWORD)",
  defaultValue: "",
} as const;

const staking = {
  name: "staking",
  description: "DeviceStaking address (default: the Ignition deployment for the chain)",
  defaultValue: "",
} as const;
const proofs = {
  name: "proofs",
  description: "FraudProofs address (default: the Ignition deployment for the chain)",
  defaultValue: "",
} as const;
const amount = {
  name: "amount",
  description: "Amount in collateral token units (e.g. 1.5; base units with --wei)",
  defaultValue: "",
} as const;
const beneficiary = {
  name: "beneficiary",
  description: "Who receives the bounty (default: the sending account)",
  defaultValue: "",
} as const;

const factory = {
  name: "factory",
  description: "DeviceFeedFactory address (default: the Ignition deployment for the chain)",
  defaultValue: "",
} as const;
const feed = {
  name: "feed",
  description: "The feed: its address or its feed id (feed create prints both)",
  defaultValue: "",
} as const;
const anchor = {
  name: "anchor",
  description: "ReadingAnchor address (default: the Ignition deployment for the chain, if any)",
  defaultValue: "",
} as const;
const broker = {
  name: "broker",
  description: "MQTT broker, mqtt://host:port (default: start an embedded aedes broker)",
  defaultValue: "",
} as const;

// ------------------------------------------------------------ insurance pool options
const pool = {
  name: "pool",
  description: "InsurancePool address (default: the Ignition deployment for the chain)",
  defaultValue: "",
} as const;
const wei = {
  name: "wei",
  description:
    "Amounts in the token's smallest units (wei), input and output; without it, token units (1.5 is 1.5 tokens)",
} as const;
const coverDevice = {
  name: "device",
  description: "The covered device's id (bytes32); or --feed",
  defaultValue: "",
} as const;
const coverFeed = {
  name: "feed",
  description: "The covered feed: its address or its feed id; or --device",
  defaultValue: "",
} as const;
const poolShares = {
  name: "shares",
  description: "Pool shares in decimal units (or base units with --wei), or all",
  defaultValue: "",
} as const;
const allocationDevice = {
  name: "device",
  description: "The device's id (bytes32)",
  defaultValue: "",
} as const;
const allocationFeed = {
  name: "feed",
  description:
    "The feed the allocation backs coverage on (address or feed id; default: the device itself)",
  defaultValue: "",
} as const;
const allocationAmount = {
  name: "amount",
  description:
    "Stake, in decimal units of the collateral token (e.g. 100.5; base units with --wei)",
  defaultValue: "",
} as const;
const policySerial = {
  name: "serial",
  description: "The policy's serial on the target (cover buy prints it)",
  type: ArgumentType.INT,
  defaultValue: -1,
} as const;

// ------------------------------------------------------------ machine account options
const accountFactory = {
  name: "factory",
  description: "DeviceAccountFactory address (default: the Ignition deployment for the chain)",
  defaultValue: "",
} as const;
const account = {
  name: "account",
  description: "The DeviceAccount's address",
  defaultValue: "",
} as const;
const accountsDir = {
  name: "accountsDir",
  description: "Account files (setup and salt: the first UserOperation deploys from them)",
  defaultValue: ".devicetrust/accounts",
} as const;
const accountAsset = {
  name: "asset",
  description: "The token: an ERC-20 address, or native",
  defaultValue: "",
} as const;
const periodCap = {
  name: "periodCap",
  description: "Most the devices may spend per period (decimal units of the asset)",
  defaultValue: "",
} as const;
const perCallCap = {
  name: "perCallCap",
  description: "Most one call may move (decimal units; default the period cap)",
  defaultValue: "",
} as const;
const accountPeriod = {
  name: "period",
  description: "Spending window in seconds",
  type: ArgumentType.INT,
  defaultValue: 86_400,
} as const;
const velocityWindow = {
  name: "velocityWindow",
  description: "Seconds over which the velocity bucket drains (0: no breaker for the asset)",
  type: ArgumentType.INT,
  defaultValue: 3_600,
} as const;
// ------------------------------------------------------------ payment channel options
const channels = {
  name: "channels",
  description: "PaymentChannel address (default: the Ignition deployment for the chain)",
  defaultValue: "",
} as const;
const channel = {
  name: "channel",
  description: "The channel's id (channel open prints it)",
  defaultValue: "",
} as const;
const vouchersDir = {
  name: "vouchersDir",
  description:
    "Voucher records: the buyer device's (it never signs lower) and the seller's latest vouchers",
  defaultValue: ".devicetrust/vouchers",
} as const;

/** The options of the account tasks that send a UserOperation: chain, account, signers, route. */
function withAccountRoute<T extends TaskArguments>(builder: NewTaskDefinitionBuilder<T>) {
  return withKeyStoreOptions(withChainOptions(builder).addOption(account).addOption(accountsDir))
    .addOption({
      name: "operatorKey",
      description:
        "The operator's private key, to sign as the owner (else $DEVICETRUST_OPERATOR_KEY)",
      defaultValue: "",
    })
    .addOption({
      name: "bundler",
      description: "ERC-4337 bundler URL (default: EntryPoint.handleOps from --from)",
      defaultValue: "",
    })
    .addFlag(wei);
}

export const tasks = [
  emptyTask(
    "device",
    "Device identity: keys, registration, rotation, custody and lifecycle",
  ).build(),
  emptyTask(
    "maker",
    "Device makers: endorsements, production batches and LMS keys for firmware signatures",
  ).build(),
  emptyTask(
    "firmware",
    "Firmware reference values: publish measurements (and sign them post-quantum), deprecate, revoke, list",
  ).build(),

  task(["device", "keygen"], "Create a device key (encrypted file or inside a PKCS#11 token)")
    .addOption({ name: "curve", description: "p256 or secp256k1", defaultValue: "p256" })
    .addOption({ name: "keystore", description: "file or pkcs11", defaultValue: "file" })
    .addOption({
      name: "out",
      description: "Key file to create (--keystore file)",
      defaultValue: "",
    })
    .addOption(password)
    .addOption(pkcs11Module)
    .addOption(token)
    .addOption(pin)
    .addOption(label)
    .addFlag(json)
    .setAction(() => import("./device/keygen.js"))
    .build(),

  emptyTask(
    ["device", "protection"],
    "Slashing protection: a device's signing record, exported and imported to move with the device",
  ).build(),

  task(["device", "protection", "export"], "Write a device's signing record as an interchange file")
    .addOption({
      name: "record",
      description:
        "The signing record (SQLite), e.g. .devicetrust/signing-records/<chainId>-<registry>/<deviceId>.sqlite",
      defaultValue: "",
    })
    .addOption({
      name: "file",
      description: "The interchange JSON file to write",
      defaultValue: "",
    })
    .addFlag(json)
    .setAction(() => import("./device/protection/export.js"))
    .build(),

  task(
    ["device", "protection", "import"],
    "Merge an interchange file into a device's signing record (created if missing); conflicts are refused",
  )
    .addOption({
      name: "record",
      description: "The signing record (SQLite) to merge into",
      defaultValue: "",
    })
    .addOption({
      name: "file",
      description: "The interchange JSON file (device protection export)",
      defaultValue: "",
    })
    .addFlag(json)
    .setAction(() => import("./device/protection/import.js"))
    .build(),

  withChainOptions(
    withKeyStoreOptions(
      task(
        ["device", "register"],
        "Register a device: it proves key possession, the maker's endorsement vouches",
      ),
    )
      .addOption({
        name: "operator",
        description: "Operator the device binds to (default: the sending account)",
        defaultValue: "",
      })
      .addOption({
        name: "model",
        description: "Device model (default: from the endorsement or manifest)",
        type: ArgumentType.INT,
        defaultValue: -1,
      })
      .addOption({
        name: "endorsement",
        description: "Endorsement file from maker endorse",
        defaultValue: "",
      })
      .addOption({
        name: "manifest",
        description: "Batch manifest from maker batch",
        defaultValue: "",
      })
      .addOption(deadline),
  )
    .setAction(() => import("./device/register.js"))
    .build(),

  withChainOptions(
    task(["device", "show"], "Show what the registry knows of a device").addOption(deviceId),
  )
    .setAction(() => import("./device/show.js"))
    .build(),

  withChainOptions(
    task(["device", "list"], "List devices (by operator or maker) with their current status")
      .addOption({
        name: "operator",
        description: "Only devices this operator holds now",
        defaultValue: "",
      })
      .addOption({
        name: "maker",
        description: "Only devices this maker id endorsed (0: any)",
        type: ArgumentType.INT,
        defaultValue: 0,
      })
      .addOption({
        name: "fromBlock",
        description: "First block to scan for events",
        type: ArgumentType.INT,
        defaultValue: 0,
      }),
  )
    .setAction(() => import("./device/list.js"))
    .build(),

  withChainOptions(
    withKeyStoreOptions(
      withKeyStoreOptions(
        task(
          ["device", "rotate-key"],
          "Rotate a device's key: the current and the new key both sign (operator only)",
        ).addOption({
          ...deviceId,
          description: "The device's id (default: found from the current key)",
        }),
        "",
        "The device's current key file",
      ),
      "new",
    ).addOption(deadline),
  )
    .setAction(() => import("./device/rotate-key.js"))
    .build(),

  withChainOptions(
    withKeyStoreOptions(
      task(
        ["device", "commit-pq-key"],
        "Commit the device, once, to a post-quantum key that can recover it (signed by its current key)",
      ).addOption({
        ...deviceId,
        description: "The device's id (default: found from its current key)",
      }),
      "",
      "The device's current key file",
    )
      .addOption({ name: "scheme", description: "lms or ml-dsa-44", defaultValue: "lms" })
      .addOption(pqKey)
      .addOption(pqPassword)
      .addOption(pqKeyRecovery)
      .addOption(deadline),
  )
    .setAction(() => import("./device/commit-pq-key.js"))
    .build(),

  withChainOptions(
    withKeyStoreOptions(
      task(
        ["device", "recover-key"],
        "Move a device to a new key with its committed post-quantum key alone (LMS on chain; ML-DSA-44: a request to check off chain)",
      )
        .addOption(deviceId)
        .addOption({ ...pqKey, description: "The committed post-quantum key's file" })
        .addOption(pqPassword)
        .addOption(pqKeyRecovery)
        .addOption(pkcs11Module),
      "new",
    ).addOption(deadline),
  )
    .setAction(() => import("./device/recover-key.js"))
    .build(),

  withChainOptions(
    task(
      ["device", "apply-recovery"],
      "Apply a recovery request its device signed with its committed post-quantum key, after checking it against the chain (LMS through PqKeyRecovery; ML-DSA-44 by a KEY_RECOVERY_ROLE holder)",
    )
      .addOption({
        name: "request",
        description:
          "The file with the request: device recover-key --json's output, a gateway's /recoveries answer or record file",
        defaultValue: "",
      })
      .addOption({
        ...deviceId,
        description: "The device whose request to apply, when the file holds several",
      })
      .addOption(pqKeyRecovery),
  )
    .setAction(() => import("./device/apply-recovery.js"))
    .build(),

  withChainOptions(
    task(
      ["device", "replace-pq-key"],
      "Replace a device's committed post-quantum key with another, signed by the committed key alone (LMS, on chain)",
    )
      .addOption(deviceId)
      .addOption({
        ...pqKey,
        description: "The committed post-quantum key's file: it signs the replacement",
      })
      .addOption(pqPassword)
      .addOption({
        ...pqKey,
        name: "newPqKey",
        description:
          "The new post-quantum key's file: an LMS key file (device pq-keygen), or an ML-DSA-44 key as PEM (or its raw public key as hex)",
      })
      .addOption({
        name: "newScheme",
        description: "The new key's scheme: lms or ml-dsa-44",
        defaultValue: "lms",
      })
      .addOption({
        ...pqPassword,
        name: "newPqPassword",
        description:
          "Password of --new-pq-key, for an encrypted ML-DSA-44 private key PEM only (else $DEVICETRUST_KEY_PASSWORD)",
      })
      .addOption(pqKeyRecovery)
      .addOption({
        ...deadline,
        description: "Seconds from now until the committed key's signature expires",
      }),
  )
    .setAction(() => import("./device/replace-pq-key.js"))
    .build(),

  task(
    ["device", "pq-keygen"],
    "Create a device's post-quantum key file (LMS key file and state, or ML-DSA-44 PKCS#8 PEM) to commit to",
  )
    .addOption({ name: "scheme", description: "lms or ml-dsa-44", defaultValue: "lms" })
    .addOption({
      name: "out",
      description: "Key file to create (never overwritten); an LMS key's state goes to <out>.state",
      defaultValue: "",
    })
    .addOption({
      ...password,
      description:
        "Password of the new key file (else $DEVICETRUST_KEY_PASSWORD or hardhat-keystore)",
    })
    .addFlag({
      name: "unencrypted",
      description: "ML-DSA-44 only: write the PEM in the clear (as openssl genpkey does)",
    })
    .addOption({
      name: "lms",
      description: "LMS only: the LMS parameter set (default LMS_SHA256_M24_H10)",
      defaultValue: "",
    })
    .addOption({
      name: "lmots",
      description: "LMS only: the LM-OTS parameter set (default LMOTS_SHA256_N24_W4)",
      defaultValue: "",
    })
    .addFlag(json)
    .setAction(() => import("./device/pq-keygen.js"))
    .build(),

  withChainOptions(
    task(["device", "transfer"], "Start (or --cancel) a custody transfer to a new operator")
      .addOption(deviceId)
      .addOption({ name: "to", description: "The new operator", defaultValue: "" })
      .addFlag({ name: "cancel", description: "Withdraw the pending transfer instead" }),
  )
    .setAction(() => import("./device/transfer.js"))
    .build(),

  withChainOptions(
    task(["device", "accept"], "Accept custody of a device (as the pending operator)").addOption(
      deviceId,
    ),
  )
    .setAction(() => import("./device/accept.js"))
    .build(),

  withChainOptions(
    task(["device", "suspend"], "Suspend an active device (operator, SUSPENDER_ROLE or governance)")
      .addOption(deviceId)
      .addOption({
        name: "reason",
        description: "Why, at most 31 bytes (recorded in the event)",
        defaultValue: "",
      }),
  )
    .setAction(() => import("./device/suspend.js"))
    .build(),

  withChainOptions(
    task(["device", "reinstate"], "Return a suspended device to Active (governance)").addOption(
      deviceId,
    ),
  )
    .setAction(() => import("./device/reinstate.js"))
    .build(),

  withChainOptions(
    task(["device", "revoke"], "Mark a device's key compromised; final (operator or governance)")
      .addOption(deviceId)
      .addOption({
        name: "reason",
        description: "Why, at most 31 bytes (recorded in the event)",
        defaultValue: "",
      }),
  )
    .setAction(() => import("./device/revoke.js"))
    .build(),

  withChainOptions(
    task(["device", "decommission"], "Retire a device; final (operator)").addOption(deviceId),
  )
    .setAction(() => import("./device/decommission.js"))
    .build(),

  withChainOptions(
    task(["maker", "add"], "Add a maker whose key endorses devices (governance)")
      .addOption({ name: "signer", description: "The maker's signing address", defaultValue: "" })
      .addOption({ name: "name", description: "The maker's name", defaultValue: "" }),
  )
    .setAction(() => import("./maker/add.js"))
    .build(),

  withChainOptions(
    task(["maker", "endorse"], "Endorse one device and model with the maker's key (--from)")
      .addOption(deviceId)
      .addOption({
        ...keyFile,
        description: "Read the device id from this key file (no password needed)",
      })
      .addOption({
        name: "model",
        description: "Device model",
        type: ArgumentType.INT,
        defaultValue: -1,
      })
      .addOption({
        name: "out",
        description: "Also write the endorsement to this file",
        defaultValue: "",
      }),
  )
    .setAction(() => import("./maker/endorse.js"))
    .build(),

  withChainOptions(
    task(
      ["maker", "batch"],
      "Build a production batch manifest (Merkle root + proofs); --publish the root",
    )
      .addOption({
        name: "input",
        description: "JSON array of devices: ids, {deviceId}, {keyType, key} or key files' content",
        defaultValue: "",
      })
      .addOption({
        name: "model",
        description: "Model of devices that name none",
        type: ArgumentType.INT,
        defaultValue: -1,
      })
      .addOption({ name: "out", description: "Manifest file to write", defaultValue: "" })
      .addFlag({
        name: "publish",
        description: "Publish the root on chain from the maker's key (--from)",
      })
      .addOption({
        name: "uri",
        description: "Where the manifest is published (recorded in the event)",
        defaultValue: "",
      }),
  )
    .setAction(() => import("./maker/batch.js"))
    .build(),

  task(
    ["maker", "lms-keygen"],
    "Create an LMS key file (post-quantum, stateful: each leaf signs once) and its state",
  )
    .addOption({
      name: "out",
      description: "Key file to create; its state goes to <out>.state",
      defaultValue: "",
    })
    .addOption({
      name: "lms",
      description:
        "LMS parameter set (LMS_SHA256_M24_H10: 1,024 signatures, the cheapest on chain)",
      defaultValue: "LMS_SHA256_M24_H10",
    })
    .addOption({
      name: "lmots",
      description: "LM-OTS parameter set, of the same hash as --lms",
      defaultValue: "LMOTS_SHA256_N24_W4",
    })
    .addOption(lmsPassword)
    .addFlag(json)
    .setAction(() => import("./maker/lms-keygen.js"))
    .build(),

  task(["maker", "lms-sign"], "Sign a 32-byte digest with the next unused leaf of an LMS key")
    .addOption(lmsKey)
    .addOption(lmsPassword)
    .addOption({
      name: "digest",
      description: "The 32-byte digest to sign, 0x-hex (e.g. FirmwareSignatures.manifestDigest)",
      defaultValue: "",
    })
    .addFlag(json)
    .setAction(() => import("./maker/lms-sign.js"))
    .build(),

  withChainOptions(
    task(
      ["maker", "lms-register"],
      "Register the maker's LMS public key for firmware signatures (from the maker's account)",
    )
      .addOption(lmsKey)
      .addOption(firmwareSignatures),
  )
    .setAction(() => import("./maker/lms-register.js"))
    .build(),

  withChainOptions(
    withKeyStoreOptions(
      task(
        ["device", "attest"],
        "Boot-measure the device's images, sign evidence for a fresh challenge and submit it",
      ).addOption({
        ...deviceId,
        description: "The device's id (default: found from its current key)",
      }),
    )
      .addOption(images)
      .addOption({
        name: "bootState",
        description: "Boot-counter state file (incremented each boot; default: no counter)",
        defaultValue: "",
      })
      .addOption({
        name: "challenge",
        description: "block (a recent block hash) or nonce (issued on chain; operator only)",
        defaultValue: "block",
      })
      .addOption({
        name: "tpm",
        description:
          'Attest with the device\'s TPM 2.0 instead of its key: the tpm2-tools TCTI (e.g. "device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=2321"); its Attestation Key is the device\'s registered key',
        defaultValue: "",
      })
      .addOption({
        name: "tpmAttestation",
        description: "The TpmAttestation appraiser (default: from the deployment)",
        defaultValue: "",
      })
      .addOption({
        name: "psaToken",
        description:
          "Submit this PSA attestation token (COSE_Sign1, binary or hex) the device made over the nonce `device challenge` issued; the key options give the device's key",
        defaultValue: "",
      })
      .addOption({
        name: "psaAttestation",
        description: "The PsaAttestation appraiser (default: from the deployment)",
        defaultValue: "",
      }),
  )
    .setAction(() => import("./device/attest.js"))
    .build(),

  withChainOptions(
    task(
      ["device", "challenge"],
      "Issue a single-use nonce for the device's next evidence (operator or governance; a PSA token signs over it)",
    ).addOption(deviceId),
  )
    .setAction(() => import("./device/challenge.js"))
    .build(),

  withChainOptions(
    task(["device", "trust"], "Whether a device is trusted now, and why (trustReport)")
      .addOption(deviceId)
      .addOption({
        name: "maxAge",
        description: "Seconds within which the device must have attested",
        type: ArgumentType.INT,
        defaultValue: 3600,
      }),
  )
    .setAction(() => import("./device/trust.js"))
    .build(),

  withChainOptions(
    task(["firmware", "publish"], "Measure release images and publish the measurement (maker)")
      .addOption({
        name: "model",
        description: "Device model",
        type: ArgumentType.INT,
        defaultValue: -1,
      })
      .addOption(firmwareVersion)
      .addOption(images)
      .addOption({
        name: "uri",
        description: "Where the release's metadata lives (recorded in the event)",
        defaultValue: "",
      })
      .addOption({
        ...lmsKey,
        description:
          "Also sign the release's manifest with the maker's registered LMS key file (post-quantum)",
      })
      .addOption(lmsPassword)
      .addOption(firmwareSignatures),
  )
    .setAction(() => import("./firmware/publish.js"))
    .build(),

  withChainOptions(
    task(
      ["firmware", "sign"],
      "Sign a published release's manifest with the maker's LMS key (post-quantum)",
    )
      .addOption(firmwareMaker)
      .addOption(firmwareModel)
      .addOption(firmwareVersion)
      .addOption(lmsKey)
      .addOption(lmsPassword)
      .addOption(firmwareSignatures),
  )
    .setAction(() => import("./firmware/sign.js"))
    .build(),

  withChainOptions(
    task(
      ["firmware", "deprecate"],
      "Deprecate a firmware: trusted until --sunset, then not (maker)",
    )
      .addOption(firmwareId)
      .addOption(firmwareMaker)
      .addOption(firmwareModel)
      .addOption(firmwareVersion)
      .addOption({
        name: "sunset",
        description: "Seconds from now, or an ISO date, after which devices on it are untrusted",
        defaultValue: "",
      }),
  )
    .setAction(() => import("./firmware/deprecate.js"))
    .build(),

  withChainOptions(
    task(
      ["firmware", "revoke"],
      "Revoke a firmware: every device on it is untrusted at once (maker or governance)",
    )
      .addOption(firmwareId)
      .addOption(firmwareMaker)
      .addOption(firmwareModel)
      .addOption(firmwareVersion),
  )
    .setAction(() => import("./firmware/revoke.js"))
    .build(),

  withChainOptions(
    task(["firmware", "list"], "List published firmware with its current status")
      .addOption({
        name: "maker",
        description: "Only this maker's firmware (0: any)",
        type: ArgumentType.INT,
        defaultValue: 0,
      })
      .addOption({
        name: "model",
        description: "Only this model's firmware (-1: any)",
        type: ArgumentType.INT,
        defaultValue: -1,
      })
      .addOption({
        name: "fromBlock",
        description: "First block to scan for events",
        type: ArgumentType.INT,
        defaultValue: 0,
      })
      .addOption({
        ...firmwareSignatures,
        description:
          "FirmwareSignatures address: show which releases are PQ-signed (default: the deployment's, if it has one)",
      }),
  )
    .setAction(() => import("./firmware/list.js"))
    .build(),
  // ------------------------------------------------------------ staking, proofs, watchtower
  emptyTask(
    "stake",
    "Operator stake per device: deposit, allocations to insurance pools, withdrawal requests, withdraw, show",
  ).build(),
  emptyTask("proof", "Fraud proofs: submit a proof file to slash a device that lied").build(),
  emptyTask(
    "watchtower",
    "The watchtower: watches signed readings and proves fraud by itself",
  ).build(),

  withChainOptions(
    task(["stake", "deposit"], "Bond collateral for a device (approves the token, then stakes)")
      .addOption(deviceId)
      .addOption(amount)
      .addFlag(wei)
      .addOption(staking),
  )
    .setAction(() => import("./stake/deposit.js"))
    .build(),

  withChainOptions(
    task(
      ["stake", "request-withdrawal"],
      "Ask to withdraw stake: it unlocks after the unbonding period and stays slashable until then",
    )
      .addOption(deviceId)
      .addOption(amount)
      .addFlag(wei)
      .addOption(staking),
  )
    .setAction(() => import("./stake/request-withdrawal.js"))
    .build(),

  withChainOptions(
    task(["stake", "withdraw"], "Collect an unlocked withdrawal (operator only)")
      .addOption(deviceId)
      .addOption(staking),
  )
    .setAction(() => import("./stake/withdraw.js"))
    .build(),

  withChainOptions(
    task(
      ["stake", "show"],
      "Show a device's stake (active, pending, allocations), what a proof would slash, and the parameters",
    )
      .addOption(deviceId)
      .addOption(staking)
      .addFlag(wei),
  )
    .setAction(() => import("./stake/show.js"))
    .build(),

  withChainOptions(
    task(
      ["stake", "allocate"],
      "Allocate active stake to an insurance pool, for the device itself or a feed it belongs to (operator)",
    )
      .addOption(allocationDevice)
      .addOption(pool)
      .addOption(allocationFeed)
      .addOption(allocationAmount)
      .addFlag(wei)
      .addOption(staking),
  )
    .setAction(() => import("./stake/allocate.js"))
    .build(),

  withChainOptions(
    task(
      ["stake", "deallocate"],
      "Take an allocation back into unallocated stake (not the part live coverage needs; operator)",
    )
      .addOption(allocationDevice)
      .addOption(pool)
      .addOption(allocationFeed)
      .addOption(allocationAmount)
      .addFlag(wei)
      .addOption(staking),
  )
    .setAction(() => import("./stake/deallocate.js"))
    .build(),

  withChainOptions(
    task(
      ["stake", "approve-backer"],
      "Approve an insurance pool as a backer operators may allocate stake to (governance)",
    )
      .addOption(pool)
      .addFlag({
        name: "revoke",
        description: "Stop approving it for new allocations instead",
      })
      .addOption(staking),
  )
    .setAction(() => import("./stake/approve-backer.js"))
    .build(),

  withChainOptions(
    task(["proof", "submit"], "Submit a fraud proof file; the bounty goes to --beneficiary")
      .addOption({
        name: "file",
        description:
          "Proof file (JSON: kind equivocation, outOfBounds, batchEquivocation, batchOutOfBounds or revokedFirmware)",
        defaultValue: "",
      })
      .addOption(beneficiary)
      .addOption(proofs),
  )
    .setAction(() => import("./proof/submit.js"))
    .build(),

  withChainOptions(
    task(["watchtower", "start"], "Watch signed readings, store evidence, prove fraud by itself")
      .addOption({
        name: "source",
        description: "Signed readings and signed batches as JSON lines: stdin or a .jsonl file",
        defaultValue: "stdin",
      })
      .addOption({
        name: "broker",
        description:
          "Subscribe to the devices' topics on this MQTT broker instead (mqtt://host:port; not shared with gateways)",
        defaultValue: "",
      })
      .addOption({
        name: "clientId",
        description: "The watchtower's persistent MQTT session id (default devicetrust-watchtower)",
        defaultValue: "",
      })
      .addOption({
        name: "db",
        description: "Evidence store, SQLite (default: .devicetrust/watchtower.sqlite)",
        defaultValue: "",
      })
      .addOption({
        name: "claims",
        description:
          "A postgres:// URL where watchtowers (and gateways' in-process ones) claim proofs, so a fraud several see is proven once; the claim owner is --client-id",
        defaultValue: "",
      })
      .addOption({
        name: "port",
        description: "Port of /health and /metrics (0: any free port)",
        type: ArgumentType.INT,
        defaultValue: 9464,
      })
      .addOption({
        name: "logLevel",
        description: "pino log level (to stderr)",
        defaultValue: "info",
      })
      .addOption(beneficiary)
      .addOption(proofs),
  )
    .setAction(() => import("./watchtower/start.js"))
    .build(),

  // ------------------------------------------------------------ feeds, gateway, fleet
  emptyTask(
    "feed",
    "Device data feeds: create, add member devices, show, read rounds, readmit quarantined members",
  ).build(),
  emptyTask("gateway", "The MQTT gateway: verifies, persists and submits device readings").build(),
  emptyTask(
    "fleet",
    "The fleet: simulate devices publishing over MQTT, or watch it all in the web console",
  ).build(),

  withChainOptions(
    task(["feed", "create"], "Create a feed through the DeviceFeedFactory (the sender owns it)")
      .addOption({
        name: "description",
        description: 'What the feed measures, e.g. "Temperature, Hall 3 (C)"',
        defaultValue: "",
      })
      .addOption({
        name: "quorum",
        description: "Fresh readings needed to commit a round (1..32)",
        type: ArgumentType.INT,
        defaultValue: 3,
      })
      .addOption({
        name: "decimals",
        description: "Decimals of the answer (values are integers scaled by 10^decimals)",
        type: ArgumentType.INT,
        defaultValue: 8,
      })
      .addOption({
        name: "maxDeviationBps",
        description:
          "A device jumping beyond this from its own previous reading is quarantined, the median jumping beyond it from the previous round trips the feed, in bps (0: no check)",
        type: ArgumentType.INT,
        defaultValue: 1000,
      })
      .addOption({
        name: "maxSpreadBps",
        description:
          "A reading farther than this from the fresh committed answer quarantines its device, in bps (0: off)",
        type: ArgumentType.INT,
        defaultValue: 0,
      })
      .addOption({
        name: "deviationThresholdBps",
        description:
          "A median this far from the last round commits a new round before the heartbeat, in bps (0: heartbeat only)",
        type: ArgumentType.INT,
        defaultValue: 50,
      })
      .addOption({
        name: "heartbeat",
        description:
          "Seconds after which a reading commits a new round even if the median did not move, at most --max-reading-age (0: every transaction commits; default: half of --max-reading-age)",
        type: ArgumentType.INT,
        defaultValue: -1,
      })
      .addOption({
        name: "maxReadingAge",
        description: "Seconds a reading stays fresh; older and future ones are rejected",
        type: ArgumentType.INT,
        defaultValue: 3600,
      })
      .addOption({
        name: "minInterval",
        description:
          "Seconds between two readings of one device; faster quarantines the device (0: none)",
        type: ArgumentType.INT,
        defaultValue: 0,
      })
      .addOption({
        name: "maxAttestationAge",
        description: "Seconds since a device's last attestation for it to count as trusted",
        type: ArgumentType.INT,
        defaultValue: 7 * 24 * 3600,
      })
      .addOption({
        name: "quarantinePeriod",
        description:
          "Seconds a quarantined device waits, and must attest again, before anyone may readmit it, at least --max-reading-age (default: a day, or --max-reading-age if longer)",
        type: ArgumentType.INT,
        defaultValue: -1,
      })
      .addOption({
        name: "maxQuarantines",
        description:
          "Quarantines within --max-reading-age the feed tolerates, at least 1 (one member never trips the feed); one more trips it (a coordinated attack)",
        type: ArgumentType.INT,
        defaultValue: 2,
      })
      .addFlag({
        name: "lockdown",
        description:
          "A quarantine also suspends the device in the registry (governance must grant the feed SUSPENDER_ROLE)",
      })
      .addOption({
        name: "minStake",
        description:
          "Active stake a device needs, in collateral token units (e.g. 1.5; base units with --wei; 0: none)",
        defaultValue: "1",
      })
      .addFlag(wei)
      .addOption({
        name: "minValue",
        description:
          'Lowest physical value, in the feed\'s units; a negative one in quotes with a leading space (" -40.5"): Hardhat reads -40 as an option',
        defaultValue: "",
      })
      .addOption({
        name: "maxValue",
        description: "Highest physical value, in the feed's units (e.g. 125)",
        defaultValue: "",
      })
      .addOption(factory),
  )
    .setAction(() => import("./feed/create.js"))
    .build(),

  withChainOptions(
    task(
      ["feed", "add-device"],
      "Add member devices to a feed (the feed's owner): joined at once if the owner operates them, else invited",
    )
      .addOption(feed)
      .addOption({
        name: "deviceIds",
        description: "Device ids to add, comma-separated",
        defaultValue: "",
      }),
  )
    .setAction(() => import("./feed/add-device.js"))
    .build(),

  withChainOptions(
    task(["feed", "join"], "Accept a feed's invitation for devices you operate (their operator)")
      .addOption(feed)
      .addOption({
        name: "deviceIds",
        description: "Invited device ids, comma-separated",
        defaultValue: "",
      }),
  )
    .setAction(() => import("./feed/join.js"))
    .build(),

  withChainOptions(
    task(
      ["feed", "leave"],
      "Ask to take a device out of a feed: it stays a member for the staking unbonding period (operator)",
    )
      .addOption(feed)
      .addOption(deviceId),
  )
    .setAction(() => import("./feed/leave.js"))
    .build(),

  withChainOptions(
    task(["feed", "complete-leave"], "Complete a requested leave once its time has come (anyone)")
      .addOption(feed)
      .addOption(deviceId),
  )
    .setAction(() => import("./feed/complete-leave.js"))
    .build(),

  withChainOptions(
    task(
      ["feed", "show"],
      "Show a feed: configuration, latest round, members (trust, stake, last reading, quarantine), breaker, cost of corruption",
    )
      .addOption(feed)
      .addFlag(wei)
      .addOption(factory),
  )
    .setAction(() => import("./feed/show.js"))
    .build(),

  withChainOptions(
    task(
      ["feed", "read"],
      "Read a feed's answer: the latest committed round (latestRoundData), or readFresh with --max-age",
    )
      .addOption(feed)
      .addOption({
        name: "maxAge",
        description:
          "Answer only from a round whose oldest reading is younger than this many seconds, and not while tripped (0: latestRoundData)",
        type: ArgumentType.INT,
        defaultValue: 0,
      }),
  )
    .setAction(() => import("./feed/read.js"))
    .build(),

  withChainOptions(
    task(
      ["feed", "round"],
      "Show a committed round (getRoundData): answer, oldest reading, commit time, readings",
    )
      .addOption(feed)
      .addOption({
        name: "id",
        description: "The round id, from 1 (default: the latest round)",
        type: ArgumentType.BIGINT,
        defaultValue: 0n,
      }),
  )
    .setAction(() => import("./feed/round.js"))
    .build(),

  withChainOptions(
    task(
      ["feed", "readmit"],
      "Readmit a quarantined member once it has attested again: anyone after the cool-off, the owner or a guardian earlier",
    )
      .addOption(feed)
      .addOption({
        name: "device",
        description: "The quarantined member's device id (bytes32)",
        defaultValue: "",
      }),
  )
    .setAction(() => import("./feed/readmit.js"))
    .build(),

  // ------------------------------------------------------------ insurance pool
  emptyTask(
    "pool",
    "Insurance pool (insurers): deposit, request or cancel a withdrawal, withdraw after the cooldown, show",
  ).build(),
  emptyTask(
    "cover",
    "Coverage on a device or a feed (integrators): buy, show, claim on an incident, release after the term",
  ).build(),
  emptyTask("security", "Economic security: what corrupting a device or a feed costs").build(),
  emptyTask("system", "The whole system: deploy it wired, check its wiring on chain").build(),
  task(
    ["system", "deploy"],
    "Deploy the wired system with Ignition (parameters from deploy/parameters/<network>.json), then check it on chain",
  )
    .addOption({
      name: "parameters",
      description: "Ignition parameter file (default: deploy/parameters/<network>.json)",
      defaultValue: "",
    })
    .addOption(deploymentId)
    .addFlag({
      name: "verify",
      description: "Verify every contract on the configured explorers afterwards (ignition verify)",
    })
    .addFlag({
      name: "yes",
      description: "Confirm a deployment to a chain other than a local hardhat node (real gas)",
    })
    .addFlag(json)
    .setAction(() => import("./system/deploy.js"))
    .build(),
  task(
    ["system", "check"],
    "Read a deployed system's wiring back from the chain; fail if any fact is wrong",
  )
    .addOption(deploymentId)
    .addOption({
      name: "governance",
      description: "Also check that this address holds every admin role",
      defaultValue: "",
    })
    .addOption({
      name: "deployer",
      description: "Also check that this (deploying) address holds no role any more",
      defaultValue: "",
    })
    .addFlag(json)
    .setAction(() => import("./system/check.js"))
    .build(),
  emptyTask("token", "Local chains only: the deployment's mock tokens, for developers").build(),
  task(["token", "mint"], "Mint the local deployment's mock token (MockERC20) to an account")
    .addOption({
      name: "token",
      description: "The token (default: the deployment's CollateralToken; required in process)",
      defaultValue: "",
    })
    .addOption({
      name: "to",
      description: "Recipient (default: the sending account)",
      defaultValue: "",
    })
    .addOption({
      name: "amount",
      description: "Amount in token units (e.g. 1000.5), or base units with --wei",
      defaultValue: "",
    })
    .addFlag(wei)
    .addOption(deploymentId)
    .addOption(from)
    .addFlag(json)
    .setAction(() => import("./token/mint.js"))
    .build(),

  withChainOptions(
    task(["pool", "deposit"], "Deposit capital into the insurance pool (approves, then deposits)")
      .addOption({
        name: "amount",
        description: "Assets to deposit, in decimal units of the pool's asset (e.g. 1000.5)",
        defaultValue: "",
      })
      .addFlag(wei)
      .addOption(pool),
  )
    .setAction(() => import("./pool/deposit.js"))
    .build(),

  withChainOptions(
    task(
      ["pool", "request-withdrawal"],
      "Escrow pool shares for withdrawal; they can leave after the cooldown",
    )
      .addOption(poolShares)
      .addFlag(wei)
      .addOption(pool),
  )
    .setAction(() => import("./pool/request-withdrawal.js"))
    .build(),

  withChainOptions(
    task(["pool", "cancel-withdrawal"], "Take back the shares escrowed by your withdrawal request")
      .addFlag(wei)
      .addOption(pool),
  )
    .setAction(() => import("./pool/cancel-withdrawal.js"))
    .build(),

  withChainOptions(
    task(
      ["pool", "withdraw"],
      "Redeem matured requested shares (default: all that free capital allows)",
    )
      .addOption({
        ...poolShares,
        description: "Shares to redeem (default: all that may leave now)",
      })
      .addFlag(wei)
      .addOption(pool),
  )
    .setAction(() => import("./pool/withdraw.js"))
    .build(),

  withChainOptions(
    task(
      ["pool", "show"],
      "Show the pool's capital, utilization, parameters and an insurer's position",
    )
      .addOption({
        name: "account",
        description: "Whose position to show (default: the sending account)",
        defaultValue: "",
      })
      .addFlag(wei)
      .addOption(pool),
  )
    .setAction(() => import("./pool/show.js"))
    .build(),

  withChainOptions(
    task(["cover", "buy"], "Buy coverage on a device or a feed: quotes, approves the premium, buys")
      .addOption(coverDevice)
      .addOption(coverFeed)
      .addOption({
        name: "amount",
        description: "Coverage, in decimal units of the pool's asset (e.g. 1000.5)",
        defaultValue: "",
      })
      .addOption({
        name: "term",
        description: "How long: seconds, or a number with s, m, h, d or w (e.g. 30d)",
        defaultValue: "30d",
      })
      .addOption({
        name: "beneficiary",
        description: "Who is paid on a claim, never the device's operator (default: the sender)",
        defaultValue: "",
      })
      .addOption({
        name: "slippage",
        description: "Premium allowed above the quote, in bps (100 = 1%)",
        type: ArgumentType.INT,
        defaultValue: 100,
      })
      .addFlag(wei)
      .addOption(pool),
  )
    .setAction(() => import("./cover/buy.js"))
    .build(),

  withChainOptions(
    task(["cover", "show"], "Show the coverage on a device or a feed: in force, capacity, policies")
      .addOption(coverDevice)
      .addOption(coverFeed)
      .addOption({ ...policySerial, description: "Only this policy (default: all)" })
      .addFlag(wei)
      .addOption(pool),
  )
    .setAction(() => import("./cover/show.js"))
    .build(),

  withChainOptions(
    task(
      ["cover", "claim"],
      "Claim a policy's payout for an incident a fraud proof recorded (a feed policy's members are read from its sale)",
    )
      .addOption(coverDevice)
      .addOption(coverFeed)
      .addOption(policySerial)
      .addOption({
        name: "incident",
        description: "The incident id (proof submit prints it)",
        defaultValue: "",
      })
      .addFlag(wei)
      .addOption(pool),
  )
    .setAction(() => import("./cover/claim.js"))
    .build(),

  withChainOptions(
    task(
      ["cover", "release"],
      "Unlock a policy's unpaid coverage after its term and the pool's claim window",
    )
      .addOption(coverDevice)
      .addOption(coverFeed)
      .addOption(policySerial)
      .addFlag(wei)
      .addOption(pool),
  )
    .setAction(() => import("./cover/release.js"))
    .build(),

  withChainOptions(
    task(
      ["security", "report"],
      "Cost of corruption, coverage in force, margin against a value at risk, and the verdict",
    )
      .addOption(coverDevice)
      .addOption(coverFeed)
      .addOption({
        name: "valueAtRisk",
        description: "Value relying on the target, in decimal units of the pool's asset",
        defaultValue: "0",
      })
      .addFlag(wei)
      .addOption(pool),
  )
    .setAction(() => import("./security/report.js"))
    .build(),

  withChainOptions(
    task(
      ["gateway", "start"],
      "Run the MQTT gateway: verify, persist and submit device readings to their feeds",
    )
      .addOption(broker)
      .addOption({
        name: "brokerPort",
        description: "Port of the embedded broker when no --broker is given (0: any free port)",
        type: ArgumentType.INT,
        defaultValue: 1883,
      })
      .addOption({
        name: "db",
        description:
          "Reading store: a SQLite file (default: .devicetrust/gateway.sqlite), or a postgres:// URL that several gateway instances share (give each its own --client-id and the same --group)",
        defaultValue: "",
      })
      .addOption({
        name: "group",
        description: "Shared-subscription group: gateways of one group split the readings",
        defaultValue: "",
      })
      .addOption({
        name: "clientId",
        description: "MQTT client id, kept across restarts (default: devicetrust-gateway)",
        defaultValue: "",
      })
      .addOption({
        name: "batchSize",
        description:
          "Readings per submission: up to 8 submitMany transactions of 64 go out in flight together",
        type: ArgumentType.INT,
        defaultValue: 512,
      })
      .addOption({
        name: "batchInterval",
        description: "Milliseconds a partial batch waits before it is submitted",
        type: ArgumentType.INT,
        defaultValue: 1000,
      })
      .addOption({
        name: "maxQueue",
        description: "Accepted readings waiting for submission at most (then intake pauses)",
        type: ArgumentType.INT,
        defaultValue: 10_000,
      })
      .addOption({
        name: "maxBatchesPerTx",
        description: "Device-signed batches anchored per transaction at most",
        type: ArgumentType.INT,
        defaultValue: 32,
      })
      .addOption({
        name: "verifyWorkers",
        description:
          "Worker threads that verify signatures while the main thread does MQTT and storage (0: inline)",
        type: ArgumentType.INT,
        defaultValue: 0,
      })
      .addOption({
        name: "httpPort",
        description: "Port of /health and /metrics (0: any free port, -1: none)",
        type: ArgumentType.INT,
        defaultValue: 9465,
      })
      .addOption({
        name: "logLevel",
        description: "Log level (stderr: lines for people, pino JSON with --json)",
        defaultValue: "info",
      })
      .addOption(anchor)
      .addFlag({
        name: "watchtower",
        description: "Also run a watchtower over the gateway's stream (it proves fraud itself)",
      })
      .addOption({
        name: "watchtowerDb",
        description: "The watchtower's evidence store (default: <db>.watchtower)",
        defaultValue: "",
      })
      .addOption({
        name: "watchtowerFrom",
        description:
          "The watchtower's sending account (default: --from; its own avoids nonce contention)",
        defaultValue: "",
      })
      .addOption(beneficiary)
      .addOption({
        ...pqKeyRecovery,
        description:
          "PqKeyRecovery address: verify post-quantum key recovery requests (LMS sent on chain from --from, ML-DSA-44 recorded for governance); default none, recovery requests dropped",
      })
      .addOption(proofs),
  )
    .setAction(() => import("./gateway/start.js"))
    .build(),

  withChainOptions(
    task(["fleet", "simulate"], "Simulate devices publishing signed readings over MQTT")
      .addOption({
        name: "broker",
        description: "MQTT broker, mqtt://host:port",
        defaultValue: "mqtt://127.0.0.1:1883",
      })
      .addOption(feed)
      .addOption({
        name: "devices",
        description: "Fresh simulated devices (ignored with --key-files)",
        type: ArgumentType.INT,
        defaultValue: 7,
      })
      .addOption({
        name: "curve",
        description: "Curve of fresh devices: both, p256 or secp256k1",
        defaultValue: "both",
      })
      .addOption({
        name: "keyFiles",
        description: "Key files of registered devices, comma-separated (instead of fresh devices)",
        defaultValue: "",
      })
      .addOption({
        ...password,
        description: "The password of every key file (or --password-file)",
      })
      .addOption({
        name: "passwordFile",
        description:
          'One password per key file: a line each, in the order of --key-files, or JSON {"<key file>": "<password>"}',
        defaultValue: "",
      })
      .addOption({
        name: "signingRecords",
        description:
          "Folder of the registered devices' signing records, which number their readings (<chainId>-<registry>/<deviceId>.sqlite)",
        defaultValue: ".devicetrust/signing-records",
      })
      .addOption({
        name: "rounds",
        description: "Readings per device",
        type: ArgumentType.INT,
        defaultValue: 1,
      })
      .addOption({
        name: "rate",
        description: "Readings per second across the fleet (0: as fast as the broker takes them)",
        type: ArgumentType.INT,
        defaultValue: 100,
      })
      .addOption({
        name: "batchSize",
        description: "Batch mode: each device publishes one signed batch of this many readings",
        type: ArgumentType.INT,
        defaultValue: 0,
      })
      .addOption({
        name: "connections",
        description: "MQTT connections the devices share",
        type: ArgumentType.INT,
        defaultValue: 8,
      })
      .addOption({
        name: "value",
        description:
          'Honest value of device 0, in the feed\'s units (e.g. 21.5, at most its decimals); a negative one in quotes with a leading space (" -40.5")',
        defaultValue: "2000",
      })
      .addOption({
        name: "step",
        description:
          "Added to the value per device index, in the feed's units (default: 0.01, or the feed's smallest step if coarser)",
        defaultValue: "",
      })
      .addOption({
        name: "clone",
        description: "Devices whose key a clone reuses for a conflicting reading",
        type: ArgumentType.INT,
        defaultValue: 0,
      })
      .addOption({
        name: "outOfBounds",
        description: "Devices that send a value no sensor can produce",
        type: ArgumentType.INT,
        defaultValue: 0,
      })
      .addOption({
        name: "outOfBoundsValue",
        description:
          "The out-of-bounds value, in the feed's units (default: 10^30 of its base units, beyond any sensor)",
        defaultValue: "",
      })
      .addOption({
        name: "burst",
        description:
          "Devices that send a burst (faster than the feed's minimum interval: the feed quarantines each)",
        type: ArgumentType.INT,
        defaultValue: 0,
      })
      .addOption({
        name: "burstReadings",
        description: "Readings per burst",
        type: ArgumentType.INT,
        defaultValue: 3,
      })
      .addOption({
        name: "burstJumpBps",
        description: "Jump of a burst's first value from the device's last one, in bps",
        type: ArgumentType.INT,
        defaultValue: 5_000,
      }),
  )
    .setAction(() => import("./fleet/simulate.js"))
    .build(),

  withChainOptions(
    task(
      ["fleet", "console"],
      "Serve the fleet console: a read-only web page of devices, feeds, insurance and operations",
    )
      .addOption({
        name: "port",
        description: "Port to serve on (0: any free port)",
        type: ArgumentType.INT,
        defaultValue: 8547,
      })
      .addOption({
        name: "host",
        description: "Interface to serve on (default loopback only)",
        defaultValue: "127.0.0.1",
      })
      .addOption(staking)
      .addOption(proofs)
      .addOption(pool)
      .addOption(factory)
      .addOption({
        name: "accountFactory",
        description: "DeviceAccountFactory address, for the Accounts view (default: none)",
        defaultValue: "",
      })
      .addOption({
        name: "feeds",
        description: "Feeds not created by the factory, comma-separated addresses",
        defaultValue: "",
      })
      .addOption({
        name: "maxAge",
        description: "Trust window for verdicts, in seconds",
        type: ArgumentType.INT,
        defaultValue: 86_400,
      })
      .addOption({
        name: "fromBlock",
        description: "First block to index (the deployment's block saves a long first read)",
        type: ArgumentType.INT,
        defaultValue: 0,
      })
      .addOption({
        name: "confirmations",
        description:
          "Blocks to stay behind the head (events are indexed once: on a chain that reorganizes, give a few)",
        type: ArgumentType.INT,
        defaultValue: 0,
      })
      .addOption({
        name: "pollMs",
        description: "Milliseconds between two reads of the chain",
        type: ArgumentType.INT,
        defaultValue: 1000,
      })
      .addOption({
        name: "gateway",
        description: "The gateway's ops URL (http://host:9465), for the Operations view",
        defaultValue: "",
      })
      .addOption({
        name: "watchtower",
        description: "The watchtower's ops URL (http://host:9464), for the Operations view",
        defaultValue: "",
      }),
  )
    .setAction(() => import("./fleet/console.js"))
    .build(),
  // ------------------------------------------------------------ machine accounts (ERC-4337)
  emptyTask(
    "account",
    "Machine accounts (ERC-4337): devices sign payments inside a policy, changes wait out a delay",
  ).build(),

  withChainOptions(
    task(
      ["account", "create"],
      "Create a DeviceAccount: prints its address; deploys now (--deploy) or with its first UserOperation",
    )
      .addOption(accountFactory)
      .addOption({
        name: "devices",
        description: "The signing devices' ids, comma-separated (weight 1 each)",
        defaultValue: "",
      })
      .addOption({
        name: "operator",
        description:
          "Cancels changes, unlocks the breaker and signs as the owner (default: --from)",
        defaultValue: "",
      })
      .addOption({
        name: "operatorWeight",
        description: "The operator's signer weight (-1: the high threshold; 0: not a signer)",
        type: ArgumentType.INT,
        defaultValue: -1,
      })
      .addOption({
        name: "lowThreshold",
        description: "Weight that pays inside the policy",
        type: ArgumentType.INT,
        defaultValue: 1,
      })
      .addOption({
        name: "highThreshold",
        description: "Weight for everything else and every change (0: all devices)",
        type: ArgumentType.INT,
        defaultValue: 0,
      })
      .addOption({
        name: "maxAttestationAge",
        description: "A device signs only with evidence at most this old (seconds)",
        type: ArgumentType.INT,
        defaultValue: 86_400,
      })
      .addOption({
        name: "changeDelay",
        description: "Seconds between proposing and applying a change",
        type: ArgumentType.INT,
        defaultValue: 86_400,
      })
      .addOption({
        name: "velocityShareBps",
        description: "Velocity breaker: share of a period cap a burst may spend (bps, 0: off)",
        type: ArgumentType.INT,
        defaultValue: 5_000,
      })
      .addOption({ ...accountAsset, description: "A token in the policy (address or native)" })
      .addOption(periodCap)
      .addOption(perCallCap)
      .addOption(accountPeriod)
      .addOption(velocityWindow)
      .addOption({
        name: "counterparties",
        description: "Counterparties allowed for --asset, comma-separated (the asset's caps)",
        defaultValue: "",
      })
      .addOption({
        name: "salt",
        description: "CREATE2 salt: a label or a bytes32",
        defaultValue: "default",
      })
      .addFlag({ name: "deploy", description: "Deploy now through the factory (createAccount)" })
      .addFlag(wei)
      .addOption({
        name: "fund",
        description: "Native coin to send the account for its gas (decimal units)",
        defaultValue: "",
      })
      .addOption(accountsDir),
  )
    .setAction(() => import("./account/create.js"))
    .build(),

  withChainOptions(
    task(
      ["account", "show"],
      "Show a DeviceAccount: signers, thresholds, policy, spending, trust, freeze, pending changes",
    )
      .addOption(account)
      .addOption(accountsDir),
  )
    .setAction(() => import("./account/show.js"))
    .build(),

  withAccountRoute(
    task(
      ["account", "policy"],
      "Propose a token or counterparty limit (high threshold), or --apply the due changes, --unlock, --cancel",
    )
      .addOption(accountAsset)
      .addOption({
        name: "counterparty",
        description: "Set this counterparty's limits for --asset (else the asset's own)",
        defaultValue: "",
      })
      .addOption(periodCap)
      .addOption(perCallCap)
      .addOption(accountPeriod)
      .addOption(velocityWindow)
      .addFlag({ name: "remove", description: "Remove the asset (or the counterparty) instead" })
      .addFlag({ name: "apply", description: "Apply every pending change whose delay is over" })
      .addFlag({ name: "unlock", description: "Release the velocity breaker (operator, --from)" })
      .addOption({
        name: "cancel",
        description: "Cancel this pending change id (operator, --from)",
        defaultValue: "",
      }),
  )
    .setAction(() => import("./account/policy.js"))
    .build(),

  withAccountRoute(
    task(["account", "pay"], "Pay an allowed counterparty from a DeviceAccount (a UserOperation)")
      .addOption(accountAsset)
      .addOption({ name: "to", description: "The recipient", defaultValue: "" })
      .addOption({
        name: "amount",
        description: "Amount in decimal units of the asset (its decimals)",
        defaultValue: "",
      }),
  )
    .setAction(() => import("./account/pay.js"))
    .build(),
  // ------------------------------------------------------------ payment channels
  emptyTask(
    "channel",
    "Payment channels: a DeviceAccount deposits, its device signs vouchers, the seller closes once",
  ).build(),

  withAccountRoute(
    task(
      ["channel", "open"],
      "Open a payment channel from a DeviceAccount (approve + open in one UserOperation)",
    )
      .addOption(channels)
      .addOption({ name: "seller", description: "Who is paid by the vouchers", defaultValue: "" })
      .addOption(accountAsset)
      .addOption({
        name: "deposit",
        description: "Deposit in decimal units of the asset",
        defaultValue: "",
      })
      .addOption({
        name: "price",
        description: "Price per unit in decimal units (bookkeeping in the terms; default 0)",
        defaultValue: "",
      })
      .addOption({
        name: "expiry",
        description: "The channel's life in seconds from now (close before it, reclaim after)",
        type: ArgumentType.INT,
        defaultValue: 86_400,
      })
      .addOption({
        name: "device",
        description: "The buyer device whose key signs vouchers (default: the signing device)",
        defaultValue: "",
      }),
  )
    .setAction(() => import("./channel/open.js"))
    .build(),

  withChainOptions(
    withKeyStoreOptions(
      task(
        ["channel", "voucher"],
        "The buyer's device signs a voucher for the running total; --accept: the seller checks and stores one",
      )
        .addOption(channels)
        .addOption(channel)
        .addOption({
          name: "amount",
          description: "The running total owed on the channel (decimal units of its asset)",
          defaultValue: "",
        })
        .addOption({ name: "out", description: "Write the voucher file here", defaultValue: "" })
        .addOption({
          name: "accept",
          description: "Seller (--from): check this voucher file against the chain and store it",
          defaultValue: "",
        })
        .addOption(vouchersDir),
    ).addFlag(wei),
  )
    .setAction(() => import("./channel/voucher.js"))
    .build(),

  withChainOptions(
    task(
      ["channel", "close"],
      "The seller (--from) closes a channel with the latest voucher it stored (--checkpoint: record it only)",
    )
      .addOption(channels)
      .addOption(channel)
      .addOption(vouchersDir)
      .addFlag({
        name: "checkpoint",
        description:
          "Checkpoint the latest voucher instead (it is paid even if the device is distrusted later)",
      }),
  )
    .setAction(() => import("./channel/close.js"))
    .build(),

  withAccountRoute(
    task(
      ["channel", "reclaim"],
      "After expiry, end a channel from the buyer's DeviceAccount: the seller gets its checkpoint, the account the rest",
    )
      .addOption(channels)
      .addOption(channel),
  )
    .setAction(() => import("./channel/reclaim.js"))
    .build(),

  withChainOptions(
    task(
      ["channel", "show"],
      "Show a channel: terms, deposit, checkpoint, expiry, settlement, owed",
    )
      .addOption(channels)
      .addOption(channel),
  )
    .setAction(() => import("./channel/show.js"))
    .build(),
];
