"""Debian's PyJWT (python3-jwt) verifies our tokens from the live JWKS with issuer
and audience; a wrong audience, a wrong issuer, a foreign key and a tampered token
are rejected. Run: MACP_AUTH_BIN=... /usr/bin/python3 -m unittest -v test_pyjwt.py"""

import base64
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jwt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from jwt.algorithms import ECAlgorithm, RSAAlgorithm  # noqa: E402

from macp_service import Service  # noqa: E402

ISSUER = "macp-auth-service"
AUDIENCE = "macp-runtime"


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def verify_with_client(svc, token, issuer=ISSUER, audience=AUDIENCE):
    """PyJWKClient fetches the JWKS and picks the key by the token's kid."""
    client = jwt.PyJWKClient(svc.url("/.well-known/jwks.json"))
    signing_key = client.get_signing_key_from_jwt(token)
    alg = jwt.get_unverified_header(token)["alg"]
    return jwt.decode(token, signing_key.key, algorithms=[alg], issuer=issuer, audience=audience)


def pyjwt_private_jwk(kty, kid=None):
    """A private JWK exported by PyJWT itself (not by the service, not by node)."""
    if kty == "RSA":
        jwk = json.loads(RSAAlgorithm.to_jwk(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    else:
        # PyJWT 2.6 writes x, y and d without leading zero bytes (RFC 7518 §6.2.1 wants
        # 32 bytes each), which the service refuses; about 1 key in 85. Take a key whose
        # export is already full length, so that this test is deterministic.
        while True:
            jwk = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1())))
            if all(len(b64url_decode(jwk[m])) == 32 for m in ("x", "y", "d")):
                break
    if kid is not None:
        jwk["kid"] = kid
    return jwk


class PyJwtVerifiesTokens(unittest.TestCase):
    def check_token(self, svc, alg, kid):
        token = svc.mint(
            {
                "sender": "agent://risk",
                "scopes": {"can_start_sessions": True, "allowed_modes": ["macp.mode.decision.v1"], "max_open_sessions": 3.0},
            }
        )
        self.assertEqual(jwt.get_unverified_header(token), {"alg": alg, "kid": kid})
        claims = verify_with_client(svc, token)
        self.assertEqual(claims["sub"], "agent://risk")
        self.assertEqual(claims["iss"], ISSUER)
        self.assertEqual(claims["aud"], AUDIENCE)
        self.assertEqual(
            claims["macp_scopes"],
            {"can_start_sessions": True, "allowed_modes": ["macp.mode.decision.v1"], "max_open_sessions": 3},
        )
        self.assertIsInstance(claims["macp_scopes"]["max_open_sessions"], int)
        self.assertEqual(claims["exp"] - claims["iat"], 300)
        return token

    def test_rs256_ephemeral(self):
        with Service({"MACP_AUTH_SIGNING_ALG": "RS256"}) as svc:
            self.check_token(svc, "RS256", "dev-key-1")

    def test_es256_ephemeral(self):
        with Service({"MACP_AUTH_SIGNING_ALG": "ES256"}) as svc:
            token = self.check_token(svc, "ES256", "dev-key-1")
            self.assertEqual(len(b64url_decode(token.split(".")[2])), 64)

    def test_rs256_pinned_key_exported_by_pyjwt(self):
        jwk = pyjwt_private_jwk("RSA", kid="py-rsa")
        with Service({"MACP_AUTH_SIGNING_KEY_JSON": json.dumps(jwk)}) as svc:
            self.check_token(svc, "RS256", "py-rsa")
            published = svc.jwks()["keys"][0]
            self.assertEqual((published["n"], published["e"]), (jwk["n"], jwk["e"]))

    def test_es256_pinned_key_exported_by_pyjwt(self):
        jwk = pyjwt_private_jwk("EC", kid="py-ec")
        with Service({"MACP_AUTH_SIGNING_KEY_JSON": json.dumps(jwk)}) as svc:
            self.check_token(svc, "ES256", "py-ec")

    def test_pyjwk_from_the_jwks_document(self):
        with Service({"MACP_AUTH_SIGNING_ALG": "ES256"}) as svc:
            token = svc.mint({"sender": "agent://pyjwk"})
            key = jwt.PyJWK(svc.jwks()["keys"][0])
            self.assertEqual(key.key_id, "dev-key-1")
            claims = jwt.decode(token, key.key, algorithms=["ES256"], issuer=ISSUER, audience=AUDIENCE)
            self.assertEqual(claims["sub"], "agent://pyjwk")

    def test_custom_issuer_and_audience(self):
        env = {"MACP_AUTH_ISSUER": "auth.example.com", "MACP_AUTH_AUDIENCE": "rt-eu"}
        with Service(env) as svc:
            token = svc.mint({"sender": "agent://eu"})
            self.assertEqual(verify_with_client(svc, token, "auth.example.com", "rt-eu")["sub"], "agent://eu")
            with self.assertRaises(jwt.InvalidIssuerError):
                verify_with_client(svc, token, ISSUER, "rt-eu")


class PyJwtRejectsBadTokens(unittest.TestCase):
    def test_wrong_audience_and_issuer(self):
        with Service({"MACP_AUTH_SIGNING_ALG": "ES256"}) as svc:
            token = svc.mint({"sender": "agent://a"})
            with self.assertRaises(jwt.InvalidAudienceError):
                verify_with_client(svc, token, audience="another-runtime")
            with self.assertRaises(jwt.InvalidIssuerError):
                verify_with_client(svc, token, issuer="someone-else")

    def test_tampered_tokens(self):
        for alg in ("RS256", "ES256"):
            with self.subTest(alg=alg), Service({"MACP_AUTH_SIGNING_ALG": alg}) as svc:
                token = svc.mint({"sender": "agent://honest"})
                header, payload, signature = token.split(".")
                forged_payload = b64url_encode(b64url_decode(payload).replace(b"agent://honest", b"agent://admin!"))
                with self.assertRaises(jwt.InvalidSignatureError):
                    verify_with_client(svc, f"{header}.{forged_payload}.{signature}")
                raw = bytearray(b64url_decode(signature))
                raw[-1] ^= 0x01
                with self.assertRaises(jwt.InvalidSignatureError):
                    verify_with_client(svc, f"{header}.{payload}.{b64url_encode(bytes(raw))}")

    def test_token_from_another_instance(self):
        # Both ephemeral instances publish kid dev-key-1; only the signer's key verifies.
        with Service() as signer, Service() as other:
            token = signer.mint({"sender": "agent://a"})
            self.assertEqual(verify_with_client(signer, token)["sub"], "agent://a")
            with self.assertRaises(jwt.InvalidSignatureError):
                verify_with_client(other, token)


if __name__ == "__main__":
    unittest.main()
