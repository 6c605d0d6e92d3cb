//! Where a notification may go (issue 9: notifications cannot be turned against us). A merchant
//! chooses the URL, so without a check it could point the notifier at the cloud metadata
//! service, at our own internal ports or at anything else on the private network. The check
//! happens at connect time: the client's resolver refuses a host unless every address it
//! resolves to is allowed, and it hands the connector only those checked addresses, so a DNS
//! answer that changes between a check and the connect (rebinding) cannot slip through. reqwest
//! never asks the resolver about an IP-literal host, so such a URL is checked before sending.

use crate::config::NotifierSettings;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// What kind of address a destination is; everything but `Public` is checked against policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Public,
    /// 127/8, ::1.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7, fec0::/10.
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// Not routable on the internet: 0/8, 192.0.0/24, 198.18/15, documentation ranges, 240/4,
    /// 2001:db8::/32, Teredo, NAT64 local use.
    Reserved,
    /// 0.0.0.0, :: (a connect to them reaches this host).
    Unspecified,
    /// 224/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 169.254.169.254 (AWS, GCP, Azure, OpenStack...), fd00:ec2::254 (AWS over IPv6),
    /// 100.100.100.200 (Alibaba Cloud).
    Metadata,
}

impl Class {
    fn describe(self) -> &'static str {
        match self {
            Class::Public => "a public address",
            Class::Loopback => "a loopback address",
            Class::Private => "a private address",
            Class::LinkLocal => "a link-local address",
            Class::Reserved => "a reserved (non-routable) address",
            Class::Unspecified => "the unspecified address",
            Class::Multicast => "a multicast address",
            Class::Broadcast => "the broadcast address",
            Class::Metadata => "a cloud metadata address",
        }
    }

    /// Reachable only inside our own network: allowed when
    /// `notifier.allow_private_destinations` is true (local development, tests).
    fn is_private_network(self) -> bool {
        matches!(
            self,
            Class::Loopback | Class::Private | Class::LinkLocal | Class::Reserved
        )
    }
}

/// The class of `ip`; an IPv6 address that carries an IPv4 one (mapped, compatible, NAT64,
/// 6to4) is the class of that IPv4 address, so `::ffff:10.0.0.1` is as private as `10.0.0.1`.
pub fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    let [a, b, c, _] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
        Class::Metadata
    } else if ip.is_unspecified() {
        Class::Unspecified
    } else if ip.is_broadcast() {
        Class::Broadcast
    } else if ip.is_loopback() {
        Class::Loopback
    } else if ip.is_private() || (a == 100 && (b & 0xc0) == 64) {
        Class::Private
    } else if ip.is_link_local() {
        Class::LinkLocal
    } else if ip.is_multicast() {
        Class::Multicast
    } else if a == 0
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b & 0xfe) == 18)
        || ip.is_documentation()
        || a >= 240
    {
        Class::Reserved
    } else {
        Class::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    let s = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Class::Metadata;
    }
    if ip.is_unspecified() {
        return Class::Unspecified;
    }
    if ip.is_loopback() {
        return Class::Loopback;
    }
    if let Some(v4) = embedded_v4(&ip) {
        return classify_v4(v4);
    }
    match s[0] {
        0xff00..=0xffff => Class::Multicast,
        0xfe80..=0xfebf => Class::LinkLocal,
        // Unique local (fc00::/7) and the deprecated site-local (fec0::/10).
        0xfc00..=0xfdff | 0xfec0..=0xfeff => Class::Private,
        // Documentation (2001:db8::/32), Teredo (2001::/32, the client hidden in it).
        0x2001 if s[1] == 0x0db8 || s[1] == 0 => Class::Reserved,
        // The rest of ::/8 (the v4-compatible, mapped and NAT64 forms are handled above), NAT64
        // for local use (64:ff9b:1::/48) included: it translates to whatever the operator chose.
        0x0000..=0x00ff => Class::Reserved,
        _ => Class::Public,
    }
}

/// The IPv4 address an IPv6 one stands for, where connecting to it reaches that IPv4 address.
fn embedded_v4(ip: &Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    match s {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (deprecated compatible form).
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0, 0, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        // 64:ff9b::a.b.c.d, the well-known NAT64 prefix.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        // 2002:aabb:ccdd::/48, 6to4.
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

/// Why a destination is refused; shown in `last_error` as "connect refused: <this>".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The address and its class. Only the address is shown, never the URL (merchants put
    /// tokens in it).
    Address { ip: IpAddr, class: Class },
    /// http:// while `notifier.require_https` is true.
    NotHttps,
    /// Not an absolute http(s) URL with a host.
    BadUrl,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Address { ip, class } if class.is_private_network() => write!(
                f,
                "destination {ip} is {} (notifier.allow_private_destinations is false)",
                class.describe()
            ),
            Refused::Address { ip, class } => write!(
                f,
                "destination {ip} is {}, never a notification destination",
                class.describe()
            ),
            Refused::NotHttps => {
                f.write_str("the notification URL is http:// (notifier.require_https is true)")
            }
            Refused::BadUrl => {
                f.write_str("the notification URL is not an http(s) URL with a host")
            }
        }
    }
}

impl std::error::Error for Refused {}

/// The destination rules of `[notifier]`.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub allow_private: bool,
    pub require_https: bool,
}

impl Policy {
    pub fn from_settings(s: &NotifierSettings) -> Policy {
        Policy {
            allow_private: s.allow_private_destinations,
            require_https: s.require_https,
        }
    }

    /// Metadata, unspecified, multicast and broadcast addresses are never destinations; the
    /// private network only when allowed.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refused> {
        let class = classify(ip);
        let allowed = class == Class::Public || (self.allow_private && class.is_private_network());
        if allowed {
            Ok(())
        } else {
            Err(Refused::Address { ip, class })
        }
    }

    /// What can be checked before connecting: the scheme, and the host when it is an IP literal
    /// (a name is checked by [`GuardedResolver`] when the connection is made).
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), Refused> {
        match url.scheme() {
            "https" => {}
            "http" if !self.require_https => {}
            "http" => return Err(Refused::NotHttps),
            _ => return Err(Refused::BadUrl),
        }
        let host = url.host_str().ok_or(Refused::BadUrl)?;
        // The url crate has already normalised IPv4 spellings (0x7f.1, 2130706433) to dotted
        // quads and keeps IPv6 literals in brackets.
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match literal.parse::<IpAddr>() {
            Ok(ip) => self.check_ip(ip),
            Err(_) => Ok(()),
        }
    }
}

/// The notifier's DNS resolver: the system resolver, then every address checked; the connector
/// gets the checked addresses and nothing else.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Policy,
}

impl GuardedResolver {
    pub fn new(policy: Policy) -> Arc<Self> {
        Arc::new(Self { policy })
    }

    async fn lookup(policy: Policy, host: String) -> Result<Vec<SocketAddr>, BoxError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
        // One refused address refuses the host: a name that answers with both a public and a
        // private address is not one we want to half-trust.
        for addr in &addrs {
            policy.check_ip(addr.ip())?;
        }
        Ok(addrs)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = Self::lookup(policy, host).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The refusal behind a failed request, if the resolver refused its destination.
pub fn refusal_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(r) = e.downcast_ref::<Refused>() {
            return Some(r);
        }
        cause = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::dns::Resolve as _;

    const CLOSED: Policy = Policy {
        allow_private: false,
        require_https: false,
    };
    const OPEN: Policy = Policy {
        allow_private: true,
        require_https: false,
    };

    #[test]
    fn every_address_is_classified() {
        use Class::*;
        let table: &[(&str, Class)] = &[
            // Public.
            ("8.8.8.8", Public),
            ("1.1.1.1", Public),
            ("93.184.216.34", Public),
            ("172.15.255.255", Public),
            ("172.32.0.1", Public),
            ("100.63.255.255", Public),
            ("100.128.0.1", Public),
            ("169.253.255.255", Public),
            ("223.255.255.255", Public),
            ("2606:4700:4700::1111", Public),
            ("2a00:1450:4001:80b::200e", Public),
            ("::ffff:8.8.8.8", Public),
            ("64:ff9b::808:808", Public),
            ("2002:808:808::1", Public),
            // Loopback.
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            // Private, CGNAT included.
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.0.1", Private),
            ("192.168.255.255", Private),
            ("100.64.0.1", Private),
            ("100.127.255.255", Private),
            ("fc00::1", Private),
            ("fd12:3456:789a::1", Private),
            ("fec0::1", Private),
            ("::ffff:10.0.0.1", Private),
            ("::ffff:172.16.0.1", Private),
            ("::ffff:192.168.1.1", Private),
            ("::ffff:100.64.0.1", Private),
            ("::10.0.0.1", Private),
            ("64:ff9b::a00:1", Private),
            ("2002:a00:1::1", Private),
            // Link-local.
            ("169.254.0.1", LinkLocal),
            ("169.254.255.255", LinkLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("::ffff:169.254.1.1", LinkLocal),
            // Reserved.
            ("0.1.2.3", Reserved),
            ("192.0.0.8", Reserved),
            ("198.18.0.1", Reserved),
            ("192.0.2.1", Reserved),
            ("240.0.0.1", Reserved),
            ("2001:db8::1", Reserved),
            ("2001::1", Reserved),
            ("64:ff9b:1::1", Reserved),
            // Unspecified.
            ("0.0.0.0", Unspecified),
            ("::", Unspecified),
            ("::ffff:0.0.0.0", Unspecified),
            // Multicast.
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("ff02::1", Multicast),
            ("ff05::1:3", Multicast),
            ("::ffff:224.0.0.251", Multicast),
            // Broadcast.
            ("255.255.255.255", Broadcast),
            ("::ffff:255.255.255.255", Broadcast),
            // Cloud metadata.
            ("169.254.169.254", Metadata),
            ("100.100.100.200", Metadata),
            ("fd00:ec2::254", Metadata),
            ("::ffff:169.254.169.254", Metadata),
            ("64:ff9b::a9fe:a9fe", Metadata),
        ];
        for (text, want) in table {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(classify(ip), *want, "{text}");
        }
    }

    #[test]
    fn only_public_addresses_pass_when_private_destinations_are_not_allowed() {
        for ok in ["8.8.8.8", "2606:4700:4700::1111", "::ffff:1.1.1.1"] {
            assert_eq!(CLOSED.check_ip(ok.parse().unwrap()), Ok(()), "{ok}");
        }
        for refused in [
            "127.0.0.1",
            "::1",
            "10.0.0.5",
            "172.20.1.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.1.1",
            "fe80::1",
            "fc00::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "ff02::1",
            "255.255.255.255",
            "169.254.169.254",
            "fd00:ec2::254",
        ] {
            assert!(
                CLOSED.check_ip(refused.parse().unwrap()).is_err(),
                "{refused}"
            );
        }
    }

    #[test]
    fn the_private_network_is_allowed_when_configured_but_metadata_and_non_unicast_never_are() {
        for ok in [
            "127.0.0.1",
            "::1",
            "10.0.0.5",
            "192.168.1.1",
            "fe80::1",
            "8.8.8.8",
        ] {
            assert_eq!(OPEN.check_ip(ok.parse().unwrap()), Ok(()), "{ok}");
        }
        for refused in [
            "169.254.169.254",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "ff02::1",
            "255.255.255.255",
        ] {
            assert!(
                OPEN.check_ip(refused.parse().unwrap()).is_err(),
                "{refused}"
            );
        }
    }

    #[test]
    fn refusals_name_the_address_and_the_setting() {
        let err = CLOSED.check_ip("10.0.0.5".parse().unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "destination 10.0.0.5 is a private address (notifier.allow_private_destinations is false)"
        );
        let err = OPEN
            .check_ip("169.254.169.254".parse().unwrap())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "destination 169.254.169.254 is a cloud metadata address, never a notification destination"
        );
    }

    #[test]
    fn urls_are_checked_for_scheme_and_ip_literal_hosts() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        let https_only = Policy {
            allow_private: true,
            require_https: true,
        };
        assert_eq!(
            CLOSED.check_url(&url("https://merchant.example/notify")),
            Ok(())
        );
        assert_eq!(CLOSED.check_url(&url("http://8.8.8.8/notify")), Ok(()));
        assert_eq!(
            CLOSED.check_url(&url("http://[2606:4700:4700::1111]/")),
            Ok(())
        );
        for refused in [
            "http://127.0.0.1:8110/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://[::1]/",
            "http://[::ffff:10.0.0.1]/",
            "https://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
        ] {
            assert!(
                matches!(
                    CLOSED.check_url(&url(refused)),
                    Err(Refused::Address { .. })
                ),
                "{refused}"
            );
        }
        assert_eq!(
            https_only.check_url(&url("http://merchant.example/notify")),
            Err(Refused::NotHttps)
        );
        assert_eq!(https_only.check_url(&url("https://127.0.0.1/")), Ok(()));
        assert_eq!(
            OPEN.check_url(&url("ftp://merchant.example/")),
            Err(Refused::BadUrl)
        );
        assert!(https_only
            .check_url(&url("http://x/"))
            .unwrap_err()
            .to_string()
            .contains("notifier.require_https"));
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_that_resolves_to_loopback() {
        let closed = GuardedResolver::new(CLOSED);
        let err = match closed.resolve("localhost".parse().unwrap()).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        let refused = refusal_in(err.as_ref()).expect("a refusal");
        assert!(
            matches!(
                refused,
                Refused::Address {
                    class: Class::Loopback,
                    ..
                }
            ),
            "{refused}"
        );

        let open = GuardedResolver::new(OPEN);
        let addrs: Vec<SocketAddr> = open
            .resolve("localhost".parse().unwrap())
            .await
            .expect("localhost is allowed when private destinations are")
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
