import { createPublicKey, type KeyObject } from "node:crypto";
import { errors, jwtVerify, type JWTPayload } from "jose";
import type { AuthConfig } from "../config/config.js";

/** Who a verified token says the client is. */
export interface TokenIdentity {
  userId: string;
  username?: string;
  /** Rooms the token may join; undefined = any room. */
  rooms?: string[];
}

/** A refused token; the message is sent to the client as its `connect_error`. */
export class AuthError extends Error {}

/**
 * Verifies handshake tokens: HS256 with a shared secret, or RS256/ES256 with a public key
 * (the algorithm follows the key's type, so a token cannot pick a weaker one).
 */
export class TokenVerifier {
  private readonly key: Uint8Array | KeyObject;
  private readonly algorithms: string[];

  /** Set when the HS256 secret is shorter than the 32 bytes RFC 7518 asks for. */
  readonly weakSecret: boolean;

  constructor(private readonly config: AuthConfig) {
    this.weakSecret = !config.publicKey && Buffer.byteLength(config.secret ?? "") < 32;
    if (config.publicKey) {
      const key = createPublicKey(config.publicKey);
      this.key = key;
      this.algorithms = key.asymmetricKeyType === "ec" ? ["ES256"] : ["RS256"];
    } else {
      this.key = new TextEncoder().encode(config.secret);
      this.algorithms = ["HS256"];
    }
  }

  async verify(token: unknown): Promise<TokenIdentity> {
    if (typeof token !== "string" || token === "") {
      throw new AuthError("unauthorized: a token is required (auth: { token })");
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: this.algorithms,
        ...(this.config.issuer ? { issuer: this.config.issuer } : {}),
        ...(this.config.audience ? { audience: this.config.audience } : {}),
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new AuthError("unauthorized: token expired");
      if (err instanceof errors.JWTClaimValidationFailed) throw new AuthError(`unauthorized: ${err.message}`);
      throw new AuthError("unauthorized: invalid token");
    }
    const userId = payload[this.config.userIdClaim];
    if (typeof userId !== "string" && typeof userId !== "number") {
      throw new AuthError(`unauthorized: token has no "${this.config.userIdClaim}" claim`);
    }
    const username = payload[this.config.usernameClaim];
    const identity: TokenIdentity = {
      userId: String(userId),
      ...(typeof username === "string" && username !== "" ? { username } : {}),
    };
    if (this.config.roomsClaim) {
      const rooms = payload[this.config.roomsClaim];
      identity.rooms = Array.isArray(rooms) ? rooms.filter((r): r is string => typeof r === "string") : [];
    }
    return identity;
  }
}

/** The token of a handshake: `auth: { token }`, or an `Authorization: Bearer` header. */
export function handshakeToken(auth: Record<string, unknown>, authorization: string | undefined): unknown {
  if (auth.token !== undefined) return auth.token;
  const match = /^Bearer\s+(.+)$/i.exec(authorization ?? "");
  return match?.[1];
}
