//! The subset of the zip format `.npz` archives use, on flate2 alone.
//!
//! Reading: the end-of-central-directory record (and its zip64 form), the
//! central directory (zip64 extra fields for sizes and offsets, as Python's
//! `zipfile` writes them for `numpy.savez`), local headers, members stored
//! (method 0) or deflated (method 8), each checked against its CRC-32.
//! Encrypted members, other methods and multi-disk archives are refused
//! with an error naming them. Writing: stored or deflated members, no
//! zip64 (archives up to 4 GiB), fixed time stamp 1980-01-01 00:00.
//!
//! A dedicated zip crate would do the same, but every current one adds or
//! changes features of crates burn shares (memchr, indexmap, byteorder),
//! which rebuilds burn; flate2 and its CRC are already here.

use std::io::{Read, Write};

use flate2::Crc;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

/// Local file header signature `PK\x03\x04`.
const LOCAL: u32 = 0x0403_4b50;
/// Central directory file header signature `PK\x01\x02`.
const CENTRAL: u32 = 0x0201_4b50;
/// End of central directory record signature `PK\x05\x06`.
const EOCD: u32 = 0x0605_4b50;
/// Zip64 end of central directory record signature `PK\x06\x06`.
const EOCD64: u32 = 0x0606_4b50;
/// Zip64 end of central directory locator signature `PK\x06\x07`.
const EOCD64_LOCATOR: u32 = 0x0706_4b50;
/// The zip64 extended information extra field's header id.
const ZIP64_EXTRA: u16 = 0x0001;
/// Compression method: stored.
const STORED: u16 = 0;
/// Compression method: deflate.
const DEFLATED: u16 = 8;
/// MS-DOS date of 1980-01-01 (the earliest a zip can say).
const DOS_DATE_1980: u16 = (1 << 5) | 1;

/// One member of an archive, decompressed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    /// The member's file name.
    pub name: String,
    /// Its uncompressed bytes.
    pub data: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

fn to_usize(v: u64, what: &str) -> Result<usize, String> {
    usize::try_from(v).map_err(|_| format!("{what} {v} does not fit in memory"))
}

/// Where the central directory lies: (entries, offset, size).
fn central_directory(b: &[u8]) -> Result<(u64, u64, u64), String> {
    // The EOCD record is 22 bytes plus a comment of at most 65535 bytes.
    let lowest = b.len().saturating_sub(22 + 0xffff);
    let eocd = (lowest..=b.len().saturating_sub(22))
        .rev()
        .find(|&i| u32_at(b, i) == Some(EOCD))
        .ok_or("no end-of-central-directory record (PK\\x05\\x06): the archive is truncated or not a zip file")?;
    let field = |off| u16_at(b, eocd + off).ok_or("truncated end-of-central-directory record");
    let (disk, cd_disk) = (field(4)?, field(6)?);
    let entries = u64::from(field(10)?);
    let size = u64::from(u32_at(b, eocd + 12).ok_or("truncated end-of-central-directory record")?);
    let offset =
        u64::from(u32_at(b, eocd + 16).ok_or("truncated end-of-central-directory record")?);
    let zip64 = entries == 0xffff || size == 0xffff_ffff || offset == 0xffff_ffff;
    let locator = eocd
        .checked_sub(20)
        .filter(|&l| u32_at(b, l) == Some(EOCD64_LOCATOR));
    match (zip64, locator) {
        (_, Some(l)) => {
            let at = u64_at(b, l + 8).ok_or("truncated zip64 locator")?;
            let at = to_usize(at, "zip64 record offset")?;
            if u32_at(b, at) != Some(EOCD64) {
                return Err(format!(
                    "the zip64 locator points to offset {at}, which holds no zip64 end-of-central-directory record"
                ));
            }
            let get = |off: usize| {
                u64_at(b, at + off).ok_or("truncated zip64 end-of-central-directory record")
            };
            let disks = u32_at(b, at + 16).ok_or("truncated zip64 record")?;
            if disks != 0 || u32_at(b, at + 20) != Some(0) {
                return Err("multi-disk (split) archives are not supported".into());
            }
            Ok((get(32)?, get(48)?, get(40)?))
        }
        (true, None) => Err(
            "the end-of-central-directory record announces zip64 but there is no zip64 locator"
                .into(),
        ),
        (false, None) => {
            if disk != 0 || cd_disk != 0 {
                return Err("multi-disk (split) archives are not supported".into());
            }
            Ok((entries, offset, size))
        }
    }
}

/// Reads every member of a zip archive held in memory, in central-directory
/// order. Errors say what is wrong (truncation, bad signature, unsupported
/// method or encryption, CRC mismatch) and which member.
pub(crate) fn read_members(b: &[u8]) -> Result<Vec<Member>, String> {
    let (entries, cd_offset, cd_size) = central_directory(b)?;
    let cd_start = to_usize(cd_offset, "central directory offset")?;
    let cd_end = cd_start
        .checked_add(to_usize(cd_size, "central directory size")?)
        .filter(|&e| e <= b.len())
        .ok_or_else(|| format!("the central directory (offset {cd_offset}, {cd_size} bytes) lies past the end of the {}-byte file", b.len()))?;
    // Each entry takes at least 46 bytes: a count above that is a lie.
    if entries > (cd_end - cd_start) as u64 / 46 {
        return Err(format!(
            "the archive claims {entries} members but its central directory holds at most {}",
            (cd_end - cd_start) / 46
        ));
    }
    let mut members = Vec::new();
    let mut at = cd_start;
    for i in 0..entries {
        let short = || format!("central directory entry {i} is truncated");
        if u32_at(b, at) != Some(CENTRAL) {
            return Err(format!(
                "central directory entry {i} at offset {at} lacks its signature PK\\x01\\x02"
            ));
        }
        let flags = u16_at(b, at + 8).ok_or_else(short)?;
        let method = u16_at(b, at + 10).ok_or_else(short)?;
        let crc = u32_at(b, at + 16).ok_or_else(short)?;
        let mut compressed = u64::from(u32_at(b, at + 20).ok_or_else(short)?);
        let mut size = u64::from(u32_at(b, at + 24).ok_or_else(short)?);
        let name_len = usize::from(u16_at(b, at + 28).ok_or_else(short)?);
        let extra_len = usize::from(u16_at(b, at + 30).ok_or_else(short)?);
        let comment_len = usize::from(u16_at(b, at + 32).ok_or_else(short)?);
        let mut local = u64::from(u32_at(b, at + 42).ok_or_else(short)?);
        let name_bytes = b.get(at + 46..at + 46 + name_len).ok_or_else(short)?;
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        let extra = b
            .get(at + 46 + name_len..at + 46 + name_len + extra_len)
            .ok_or_else(short)?;
        // The zip64 extra field holds, in this order, the values whose
        // 32-bit fields read 0xffffffff.
        let mut e = 0;
        while e + 4 <= extra.len() {
            let id = u16_at(extra, e).ok_or_else(short)?;
            let len = usize::from(u16_at(extra, e + 2).ok_or_else(short)?);
            let body = extra.get(e + 4..e + 4 + len).ok_or_else(short)?;
            if id == ZIP64_EXTRA {
                let mut k = 0;
                for v in [&mut size, &mut compressed, &mut local] {
                    if *v == 0xffff_ffff {
                        *v = u64_at(body, k).ok_or_else(|| {
                            format!("member '{name}': its zip64 extra field is too short")
                        })?;
                        k += 8;
                    }
                }
            }
            e += 4 + len;
        }
        at += 46 + name_len + extra_len + comment_len;
        if flags & 1 != 0 {
            return Err(format!(
                "member '{name}' is encrypted, which is not supported"
            ));
        }
        let local = to_usize(local, "local header offset")?;
        if u32_at(b, local) != Some(LOCAL) {
            return Err(format!(
                "member '{name}': offset {local} holds no local file header (PK\\x03\\x04)"
            ));
        }
        let l_name = usize::from(u16_at(b, local + 26).ok_or_else(short)?);
        let l_extra = usize::from(u16_at(b, local + 28).ok_or_else(short)?);
        let start = local + 30 + l_name + l_extra;
        let raw = start
            .checked_add(to_usize(compressed, "compressed size")?)
            .and_then(|end| b.get(start..end))
            .ok_or_else(|| {
                format!(
                    "member '{name}': its {compressed} bytes of data run past the end of the file"
                )
            })?;
        let size = to_usize(size, "uncompressed size")?;
        let data = match method {
            STORED => raw.to_vec(),
            DEFLATED => {
                // Never inflate more than the directory announces (+1 to
                // notice a longer stream).
                let mut out = Vec::with_capacity(size.min(1 << 26));
                DeflateDecoder::new(raw)
                    .take(size as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|err| format!("member '{name}' does not inflate: {err}"))?;
                out
            }
            m => {
                return Err(format!(
                    "member '{name}' uses compression method {m}; only stored (0) and deflate (8) are supported (numpy.savez / savez_compressed)"
                ));
            }
        };
        if data.len() != size {
            return Err(format!(
                "member '{name}' holds {} bytes, but the directory says {size}",
                data.len()
            ));
        }
        let mut check = Crc::new();
        check.update(&data);
        if check.sum() != crc {
            return Err(format!(
                "member '{name}' fails its CRC-32 check (stored {crc:08x}, computed {:08x})",
                check.sum()
            ));
        }
        members.push(Member { name, data });
    }
    Ok(members)
}

/// Writes members as a zip archive, each stored or deflated. Errors when the
/// archive would need zip64 (over 4 GiB, 65535 members, or a name over
/// 65535 bytes).
pub(crate) fn write_members(members: &[(&str, &[u8])], deflate: bool) -> Result<Vec<u8>, String> {
    let too_big = || {
        "the archive would exceed the zip limits of 4 GiB and 65535 members without zip64; write the arrays as .npy files instead".to_string()
    };
    if members.len() >= 0xffff {
        return Err(too_big());
    }
    let method = if deflate { DEFLATED } else { STORED };
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let mut crc = Crc::new();
        crc.update(data);
        let body = if deflate {
            let mut enc = DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data).map_err(|e| e.to_string())?;
            enc.finish().map_err(|e| e.to_string())?
        } else {
            data.to_vec()
        };
        let name_len = u16::try_from(name.len()).map_err(|_| too_big())?;
        let fit = |v: usize| u32::try_from(v).ok().filter(|&v| v != u32::MAX);
        let (Some(offset), Some(csize), Some(usize_)) =
            (fit(out.len()), fit(body.len()), fit(data.len()))
        else {
            return Err(too_big());
        };
        // Bit 11: the name is UTF-8.
        let flags: u16 = if name.is_ascii() { 0 } else { 1 << 11 };
        let mut common = Vec::with_capacity(26);
        common.extend_from_slice(&20u16.to_le_bytes()); // version needed: 2.0
        common.extend_from_slice(&flags.to_le_bytes());
        common.extend_from_slice(&method.to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // time 00:00
        common.extend_from_slice(&DOS_DATE_1980.to_le_bytes());
        common.extend_from_slice(&crc.sum().to_le_bytes());
        common.extend_from_slice(&csize.to_le_bytes());
        common.extend_from_slice(&usize_.to_le_bytes());
        common.extend_from_slice(&name_len.to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // extra length

        out.extend_from_slice(&LOCAL.to_le_bytes());
        out.extend_from_slice(&common);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&body);

        central.extend_from_slice(&CENTRAL.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by: 2.0, MS-DOS
        central.extend_from_slice(&common);
        central.extend_from_slice(&0u16.to_le_bytes()); // comment length
        central.extend_from_slice(&0u16.to_le_bytes()); // disk number
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = u32::try_from(out.len()).map_err(|_| too_big())?;
    let cd_size = u32::try_from(central.len()).map_err(|_| too_big())?;
    out.extend_from_slice(&central);
    let n = members.len() as u16;
    out.extend_from_slice(&EOCD.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // this disk
    out.extend_from_slice(&0u16.to_le_bytes()); // disk of the central directory
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_stored_and_deflated() {
        let big = vec![7u8; 10_000];
        let members: [(&str, &[u8]); 4] = [
            ("a.npy", b"hello"),
            ("empty.npy", b""),
            ("big.npy", &big),
            ("ünï.npy", b"utf-8 name"),
        ];
        for deflate in [false, true] {
            let z = write_members(&members, deflate).unwrap();
            let back = read_members(&z).unwrap();
            assert_eq!(back.len(), 4);
            for (m, (name, data)) in back.iter().zip(members) {
                assert_eq!((m.name.as_str(), m.data.as_slice()), (name, data));
            }
            if deflate {
                assert!(z.len() < 1000, "deflate compresses the zeros: {}", z.len());
            }
        }
        assert!(
            read_members(&write_members(&[], true).unwrap())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn damage_is_reported() {
        let z = write_members(&[("a.npy", b"some bytes here")], false).unwrap();
        for cut in 0..z.len() {
            assert!(read_members(&z[..cut]).is_err(), "cut {cut}");
        }
        let mut bad = z.clone();
        bad[36] ^= 1; // inside the member's data (after 30 + 5 header bytes)
        assert!(read_members(&bad).unwrap_err().contains("CRC-32"));
        let mut enc = z.clone();
        let cd = z.len() - 22 - (46 + 5);
        enc[cd + 8] |= 1; // the encryption flag
        assert!(read_members(&enc).unwrap_err().contains("encrypted"));
        let mut m = z.clone();
        m[cd + 10] = 12; // bzip2
        assert!(read_members(&m).unwrap_err().contains("method 12"));
    }
}
