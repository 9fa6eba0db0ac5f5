"""Alipay in public-key-certificate mode, for tests: a throwaway certificate authority and a loopback server that
answers `alipay.fund.trans.uni.transfer` as Alipay's open-API gateway does (plain helpers, no fixtures).

The server checks what Alipay checks: the request's RSA2 signature with the public key in the app's certificate, and
that `app_cert_sn` and `alipay_root_cert_sn` name the certificates it issued (MD5 of the issuer's distinguished name
and the decimal serial number, as Alipay documents them). It answers with the response object signed by Alipay's
private key over its exact text, and `alipay_cert_sn` beside it. Transfers are idempotent by `out_biz_no`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from vetrina import clock

TRANSFER_METHOD = "alipay.fund.trans.uni.transfer"
RESPONSE_KEY = "alipay_fund_trans_uni_transfer_response"
MINIMUM_FEN = 10  # Alipay transfers at least 0.10 yuan
# Alipay's own words for the refusals this server gives (sub_msg is Chinese, as Alipay's is).
BAD_SIGNATURE = "验签出错，建议检查签名字符串或签名私钥与应用公钥证书是否匹配"
NO_SUCH_PAYEE = "收款账号不存在或姓名有误，建议核实账号和姓名是否准确"
WRONG_NAME = "支付宝账号和姓名不匹配，请确认姓名是否正确"


def _name(common_name: str, organisation: str) -> x509.Name:
    # Built country first, so its RFC 4514 form reads CN=...,OU=...,O=...,C=CN, the string Alipay's SN hashes.
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Certification Authority"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    issuer: x509.Name,
    signing_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    is_ca: bool,
) -> x509.Certificate:
    now = clock.now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .sign(signing_key, hashes.SHA256())
    )


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def cert_sn(cert: x509.Certificate) -> str:
    """A certificate's SN as Alipay documents it: md5(issuer DN + decimal serial number)."""
    text = cert.issuer.rfc4514_string() + str(cert.serial_number)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def root_chain_sn(chain: list[x509.Certificate]) -> str:
    """The root chain's SN: the SNs of its RSA-signed certificates, joined by `_` (the others are skipped)."""
    signed_by_rsa = [cert for cert in chain if isinstance(cert.signature_algorithm_parameters, padding.PKCS1v15)]
    return "_".join(cert_sn(cert) for cert in signed_by_rsa)


@dataclass(frozen=True)
class ThrowawayCA:
    """A root, the app's certificate for the app's key, and "Alipay's" certificate for Alipay's key, all made here."""

    root_chain: list[x509.Certificate]  # an RSA root, then an ECDSA one (as Alipay's chain holds an SM2 one)
    app_key: rsa.RSAPrivateKey
    app_cert: x509.Certificate
    alipay_key: rsa.RSAPrivateKey
    alipay_cert: x509.Certificate

    @property
    def root_chain_pem(self) -> str:
        return "\n".join(_pem(cert) for cert in self.root_chain)  # a blank line between certificates, as Alipay's

    @property
    def app_cert_pem(self) -> str:
        return _pem(self.app_cert)

    @property
    def alipay_cert_pem(self) -> str:
        return _pem(self.alipay_cert)

    @property
    def app_key_pem(self) -> str:
        return private_pem(self.app_key)

    @property
    def alipay_public_key_pem(self) -> str:
        public = self.alipay_key.public_key()
        return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def make_ca(app_id: str) -> ThrowawayCA:
    root_key, other_root_key = rsa_key(), ec.generate_private_key(ec.SECP256R1())
    root_name, other_root_name = _name("Throwaway Root CA", "Throwaway"), _name("Throwaway EC Root", "Throwaway")
    root = _certificate(root_name, root_key.public_key(), root_name, root_key, is_ca=True)
    other_root = _certificate(other_root_name, other_root_key.public_key(), other_root_name, other_root_key, True)
    app_key, alipay_key = rsa_key(), rsa_key()
    app_cert = _certificate(_name(app_id, "A Vetrina shop"), app_key.public_key(), root_name, root_key, False)
    alipay_name = _name("Alipay (throwaway)", "Alipay")
    alipay_cert = _certificate(alipay_name, alipay_key.public_key(), root_name, root_key, False)
    return ThrowawayCA([root, other_root], app_key, app_cert, alipay_key, alipay_cert)


def _error(code: str, msg: str, sub_code: str, sub_msg: str) -> dict[str, str]:
    return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


class AlipayTransferGateway:
    """Alipay's gateway on loopback for single transfers to Alipay accounts (by login id and real name)."""

    def __init__(self, ca: ThrowawayCA, app_id: str, payees: dict[str, str], balance_fen: int) -> None:
        self.ca, self.app_id = ca, app_id
        self.payees = payees  # login id -> the holder's real name
        self.balance_fen = balance_fen  # the platform's Alipay balance the transfers draw on
        self.received: dict[str, int] = {}  # login id -> fen transferred to it
        self.transfers: dict[str, dict[str, Any]] = {}  # out_biz_no -> the answer given when it was made
        self.requests: list[dict[str, str]] = []
        self.rejected: list[str] = []  # why requests failed Alipay's own checks
        self.answer_key = ca.alipay_key  # what answers are signed with (a test swaps in an impostor's key)
        self.busy = False  # answer SYSTEM_ERROR, as Alipay does when it cannot say what happened
        self.outage = False  # answer 502 with an HTML page, as a load balancer in front of Alipay would
        self._lock = threading.Lock()
        self._orders = 0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self._answer(urlsplit(self.path).query)

            def do_POST(self) -> None:  # noqa: N802
                self._answer(self.rfile.read(int(self.headers.get("content-length", 0))).decode())

            def _answer(self, query: str) -> None:
                if gateway.outage:
                    self._send(502, "text/html", b"<html><body>502 Bad Gateway</body></html>")
                    return
                body = gateway.answer(dict(parse_qsl(query, keep_blank_values=True)))
                self._send(200, "application/json;charset=utf-8", body.encode())

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/gateway.do"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, params: dict[str, str]) -> str:
        with self._lock:
            self.requests.append(params)
            refusal = self._check_request(params)
            if refusal is not None:
                self.rejected.append(refusal["sub_code"])
                # Alipay does not sign its answer to a request it could not authenticate.
                return json.dumps({RESPONSE_KEY: refusal}, ensure_ascii=False)
            return self._signed(self._transfer(json.loads(params["biz_content"])))

    def _check_request(self, params: dict[str, str]) -> dict[str, str] | None:
        invalid = "Invalid Arguments"
        if params.get("method") != TRANSFER_METHOD or params.get("app_id") != self.app_id:
            return _error("40002", invalid, "isv.invalid-method-or-app-id", "无效的方法名或AppID参数")
        if params.get("sign_type") != "RSA2" or not params.get("sign"):
            return _error("40002", invalid, "isv.invalid-signature-type", "无效的签名类型")
        if params.get("app_cert_sn") != cert_sn(self.ca.app_cert):
            return _error("40002", invalid, "isv.app-cert-sn-mismatch", "应用公钥证书序列号与证书不匹配")
        if params.get("alipay_root_cert_sn") != root_chain_sn(self.ca.root_chain):
            return _error("40002", invalid, "isv.root-cert-sn-mismatch", "支付宝根证书序列号不匹配")
        # Signed content: every parameter but the signature, non-empty ones, sorted, key=value joined by '&'.
        content = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v != "")
        public_key = self.ca.app_cert.public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)
        try:
            signature = base64.b64decode(params["sign"])
            public_key.verify(signature, content.encode(), padding.PKCS1v15(), hashes.SHA256())
        except (ValueError, InvalidSignature):
            return _error("40002", invalid, "isv.invalid-signature", BAD_SIGNATURE)
        return None

    def _transfer(self, biz: dict[str, Any]) -> dict[str, Any]:
        out_biz_no = str(biz.get("out_biz_no") or "")
        if out_biz_no in self.transfers:
            return self.transfers[out_biz_no]  # the same transfer asked for again: the same answer, no new money
        if self.busy:
            return _error("40004", "Business Failed", "SYSTEM_ERROR", "系统繁忙")
        payee = biz.get("payee_info") or {}
        if biz.get("product_code") != "TRANS_ACCOUNT_NO_PWD" or biz.get("biz_scene") != "DIRECT_TRANSFER":
            return _error("40004", "Business Failed", "INVALID_PARAMETER", "参数有误：产品码或业务场景不支持")
        if payee.get("identity_type") != "ALIPAY_LOGON_ID" or not out_biz_no:
            return _error("40004", "Business Failed", "INVALID_PARAMETER", "参数有误：参与方标识类型不支持")
        try:
            amount = Decimal(str(biz.get("trans_amount")))
        except InvalidOperation:
            amount = Decimal(-1)
        fen = amount * 100
        if not amount.is_finite() or fen != fen.to_integral_value() or fen < MINIMUM_FEN:
            return _error("40004", "Business Failed", "EXCEED_LIMIT_SM_MIN_AMOUNT", "单笔最低转账金额0.1元")
        identity = payee.get("identity")
        if identity not in self.payees:
            return _error("40004", "Business Failed", "PAYEE_NOT_EXIST", NO_SUCH_PAYEE)
        if payee.get("name") != self.payees[identity]:
            return _error("40004", "Business Failed", "PAYEE_USER_INFO_ERROR", WRONG_NAME)
        if int(fen) > self.balance_fen:
            return _error("40004", "Business Failed", "PAYER_BALANCE_NOT_ENOUGH", "付款方余额不足")
        self.balance_fen -= int(fen)
        self.received[identity] = self.received.get(identity, 0) + int(fen)
        self._orders += 1
        made = {
            "code": "10000",
            "msg": "Success",
            "out_biz_no": out_biz_no,
            "order_id": f"2025{self._orders:028d}",
            "pay_fund_order_id": f"2025{secrets.randbelow(10**28):028d}",
            "status": "SUCCESS",
            "trans_date": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
        }
        self.transfers[out_biz_no] = made
        return made

    def _signed(self, response: dict[str, Any]) -> str:
        """The answer as Alipay writes it: the response object's exact text is what the signature covers."""
        text = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
        signature = self.answer_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
        sign = base64.b64encode(signature).decode()
        return f'{{"{RESPONSE_KEY}":{text},"alipay_cert_sn":"{cert_sn(self.ca.alipay_cert)}","sign":"{sign}"}}'
