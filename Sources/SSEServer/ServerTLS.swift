import Crypto
import FoundationEssentials
import NIOCore
import NIOSSL
import SwiftASN1
import X509

/// The certificate and key `drip serve --tls` answers with, and the two digests a client pins it by.
///
/// Either made at start (`generated`: a P-256 key and a self-signed certificate for 127.0.0.1, ::1
/// and localhost, valid from an hour ago for 30 days, its own issuer) or read from PEM files (`load`). Invariant: the
/// key belongs to the first certificate of the chain (NIOSSL checks it when the context is made).
public struct ServerTLS: Sendable, Hashable {
    /// The chain sent to clients, leaf first.
    public let certificateChain: [NIOSSLCertificate]
    public let privateKey: NIOSSLPrivateKey
    /// SHA-256 of the leaf certificate's DER, as colon-separated hex (what `openssl x509 -fingerprint -sha256` prints).
    public let certificateFingerprint: String
    /// Base64 SHA-256 of the leaf's SubjectPublicKeyInfo: `curl --pinnedpubkey sha256//PIN`, Chromium's
    /// `--ignore-certificate-errors-spki-list=PIN`.
    public let publicKeyPin: String

    /// A self-signed certificate for the loopback names, with a key made now.
    public static func generated(now: Date = Date()) throws(ServerError) -> ServerTLS {
        let key = P256.Signing.PrivateKey()
        do {
            let name = try DistinguishedName { CommonName("drip serve (localhost)") }
            let names = SubjectAlternativeNames([
                .dnsName("localhost"),
                .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
            ])
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: .init(key.publicKey),
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(30 * 24 * 3600),
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    // Its own issuer, so a client that trusts it (curl --cacert) verifies it as the
                    // anchor: that takes CA:TRUE and keyCertSign, as `openssl req -x509` makes them.
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                    try ExtendedKeyUsage([.serverAuth])
                    names
                },
                issuerPrivateKey: .init(key))
            let pem = try certificate.serializeAsPEM().pemString
            return try make(
                chain: [NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem)],
                key: NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem))
        } catch {
            throw .invalidConfiguration("the TLS certificate could not be made: \(error)")
        }
    }

    /// The chain and key of PEM files (the key unencrypted).
    public static func load(certificateFile: String, keyFile: String) throws(ServerError) -> ServerTLS {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw .invalidConfiguration("cannot read a PEM certificate from \(certificateFile): \(error)")
        }
        guard !chain.isEmpty else { throw .invalidConfiguration("\(certificateFile) holds no PEM certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw .invalidConfiguration("cannot read an unencrypted PEM private key from \(keyFile): \(error)")
        }
        do {
            return try make(chain: chain, key: key)
        } catch {
            throw .invalidConfiguration("cannot use \(certificateFile) with \(keyFile): \(error)")
        }
    }

    private static func make(chain: [NIOSSLCertificate], key: NIOSSLPrivateKey) throws -> ServerTLS {
        let leaf = chain[0]
        let der = try leaf.toDERBytes()
        let spki = try leaf.extractPublicKey().toSPKIBytes()
        let tls = ServerTLS(
            certificateChain: chain, privateKey: key,
            certificateFingerprint: SHA256.hash(data: der).map { String($0, radix: 16, uppercase: true).leftPadded(to: 2) }.joined(separator: ":"),
            publicKeyPin: Data(SHA256.hash(data: spki)).base64EncodedString())
        _ = try tls.makeContext()
        return tls
    }

    /// The server side of a TLS connection: TLS 1.2 or later, ALPN offering h2 then http/1.1.
    func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificateChain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["h2", "http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
