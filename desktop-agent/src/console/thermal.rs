//! Receipts on an 80 mm thermal printer in ESC/POS (office-console issue: "ESC/POS bytes sent
//! straight to a configured thermal printer"), through the `escpos` crate: a printer on the
//! network (raw port 9100) or a device or spool file (`/dev/usb/lp0`, a serial device set up
//! by the OS, or a plain file for tests). Text is transliterated to ASCII (`deunicode`), since
//! the printer's default code page (PC437) has no Urdu or most accents; the screen receipt
//! keeps the real names (the PDF uses these same lines, its builtin fonts being WinAnsi).

use std::path::PathBuf;
use std::str::FromStr;

use chrono_tz::Tz;
use escpos::driver::{Driver, FileDriver, NetworkDriver};
use escpos::printer::Printer;
use escpos::utils::{JustifyMode, Protocol};

use super::page::{local_time, money};
use super::records::PrintedReceipt;

/// Characters per line in font A on 80 mm paper (48 on most printers; 42 leaves a margin).
pub const COLUMNS: usize = 42;

/// Where receipts are printed: `tcp:HOST:PORT` or `file:PATH` (`--printer`).
#[derive(Debug, Clone, PartialEq)]
pub enum PrinterTarget {
    Network { host: String, port: u16 },
    File(PathBuf),
}

impl FromStr for PrinterTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix("tcp:") {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or("tcp:HOST:PORT, e.g. tcp:192.168.1.50:9100")?;
            let port = port
                .parse()
                .map_err(|_| format!("`{port}` is not a port"))?;
            return Ok(PrinterTarget::Network {
                host: host.to_string(),
                port,
            });
        }
        if let Some(path) = s.strip_prefix("file:") {
            return Ok(PrinterTarget::File(PathBuf::from(path)));
        }
        Err(format!(
            "`{s}`: a printer is tcp:HOST:PORT (network, usually port 9100) or file:PATH (e.g. file:/dev/usb/lp0)"
        ))
    }
}

fn two_columns(left: &str, right: &str) -> String {
    let room = COLUMNS.saturating_sub(right.len() + 1);
    let left: String = left.chars().take(room).collect();
    format!("{left:<room$} {right}")
}

/// The receipt as lines of at most [`COLUMNS`] ASCII characters (the first is the school's
/// name, printed centred and bold; then its address, wrapped at word boundaries).
pub fn lines(p: &PrintedReceipt, tz: Tz, pending: bool) -> Vec<String> {
    let r = &p.receipt;
    let cur = &r.currency;
    let mut out = vec![r.school.clone()];
    let address = deunicode::deunicode(&r.school_address);
    out.extend(
        textwrap::wrap(&address, COLUMNS)
            .into_iter()
            .map(String::from),
    );
    out.extend([
        format!("RECEIPT {}", r.receipt_no),
        local_time(r.received_at, tz),
        format!("Cashier: {}", p.cashier),
        format!("Family: {}", r.family),
    ]);
    for c in &p.children {
        out.push(match &c.class {
            Some(class) => format!("  {} ({}, {})", c.name, class, c.admission_no),
            None => format!("  {} ({})", c.name, c.admission_no),
        });
    }
    out.push("-".repeat(COLUMNS));
    for (student, line, amount) in &r.allocations {
        out.push(two_columns(
            &format!("{student} - {line}"),
            &money(*amount, cur),
        ));
    }
    if r.to_credit > 0 {
        out.push(two_columns(
            "Kept as family credit",
            &money(r.to_credit, cur),
        ));
    }
    out.push(two_columns(
        &format!("RECEIVED ({})", r.method.as_str()),
        &format!("{cur} {}", money(r.amount, cur)),
    ));
    if let Some(reference) = &p.reference {
        out.push(format!("Reference: {reference}"));
    }
    out.push(two_columns(
        "Balance due",
        &format!("{cur} {}", money(p.net_due_after.max(0), cur)),
    ));
    out.push(two_columns(
        "Credit held",
        &format!("{cur} {}", money(p.credit_after, cur)),
    ));
    if pending {
        out.push("PENDING SYNC".into());
    }
    out.into_iter()
        .map(|l| deunicode::deunicode(&l).chars().take(COLUMNS).collect())
        .collect()
}

fn print_with<D: Driver>(driver: D, lines: &[String]) -> escpos::errors::Result<()> {
    let mut printer = Printer::new(driver, Protocol::default(), None);
    printer.init()?;
    let mut rest = lines.iter();
    if let Some(title) = rest.next() {
        printer
            .justify(JustifyMode::CENTER)?
            .bold(true)?
            .writeln(title)?
            .bold(false)?
            .justify(JustifyMode::LEFT)?;
    }
    for l in rest {
        if l == "PENDING SYNC" {
            printer
                .justify(JustifyMode::CENTER)?
                .bold(true)?
                .writeln(l)?
                .bold(false)?
                .justify(JustifyMode::LEFT)?;
        } else {
            printer.writeln(l)?;
        }
    }
    printer.feed()?.print_cut()?;
    Ok(())
}

/// Sends `lines` to `target` as one ESC/POS job (initialise, lines, feed, cut). A `file:`
/// target must exist (a device, or a file the job is appended to).
///
/// Errors: the printer cannot be reached or written, in words for the receipt page.
pub fn print(target: &PrinterTarget, lines: &[String]) -> Result<(), String> {
    let result = match target {
        PrinterTarget::Network { host, port } => {
            NetworkDriver::open(host, *port, Some(std::time::Duration::from_secs(5)))
                .and_then(|d| print_with(d, lines))
        }
        PrinterTarget::File(path) => FileDriver::open(path).and_then(|d| print_with(d, lines)),
    };
    result.map_err(|e| format!("the thermal printer ({target:?}) failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::records::Child;
    use chrono::TimeZone;
    use daftar_client_core::client::office::Receipt;
    use daftar_client_core::protocol::PaymentMethod;
    use uuid::Uuid;

    fn receipt() -> PrintedReceipt {
        PrintedReceipt {
            receipt: Receipt {
                payment_id: Uuid::nil(),
                receipt_no: "D1-000042".into(),
                school: "Daftar Demo School".into(),
                school_address: "14-B Main Boulevard, Gulberg III, Lahore 54660".into(),
                family_id: Uuid::nil(),
                family: "Ağa family".into(),
                amount: 1_650_000,
                currency: "PKR".into(),
                method: PaymentMethod::Cheque,
                received_at: chrono::Utc.with_ymd_and_hms(2026, 12, 2, 5, 30, 0).unwrap(),
                allocations: vec![
                    ("Zoë Ağa".into(), "Tuition".into(), 750_000),
                    ("Ali Ağa".into(), "Tuition".into(), 750_000),
                ],
                to_credit: 150_000,
                offline: true,
            },
            reference: Some("CHQ-004512".into()),
            cashier: "Amna Cashier".into(),
            cashier_user_id: Uuid::nil(),
            net_due_after: -150_000,
            credit_after: 150_000,
            children: vec![Child {
                student_id: Uuid::nil(),
                name: "Zoë Ağa".into(),
                admission_no: "DS-0003".into(),
                class: Some("Grade 3-A".into()),
            }],
        }
    }

    /// The receipt's text in school time, ASCII, within 42 columns; the address wrapped at a
    /// word.
    #[test]
    fn the_thermal_receipt_reads_as_the_family_should_see_it() {
        let l = lines(&receipt(), chrono_tz::Asia::Karachi, true);
        let want = [
            "Daftar Demo School",
            "14-B Main Boulevard, Gulberg III, Lahore",
            "54660",
            "RECEIPT D1-000042",
            "2026-12-02 10:30",
            "Cashier: Amna Cashier",
            "Family: Aga family",
            "  Zoe Aga (Grade 3-A, DS-0003)",
            "------------------------------------------",
            "Zoe Aga - Tuition                 7,500.00",
            "Ali Aga - Tuition                 7,500.00",
            "Kept as family credit             1,500.00",
            "RECEIVED (cheque)            PKR 16,500.00",
            "Reference: CHQ-004512",
            "Balance due                       PKR 0.00",
            "Credit held                   PKR 1,500.00",
            "PENDING SYNC",
        ];
        assert_eq!(l, want);
        assert!(l.iter().all(|x| x.len() <= COLUMNS && x.is_ascii()));
    }

    /// The ESC/POS job, byte for byte, through the crate's file driver, against the committed
    /// golden file (`DAFTAR_UPDATE_GENERATED=1` rewrites it after a deliberate change).
    #[test]
    fn the_escpos_bytes_are_the_golden_ones() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("printer");
        std::fs::write(&spool, b"").unwrap();
        let l = lines(&receipt(), chrono_tz::Asia::Karachi, true);
        print(&PrinterTarget::File(spool.clone()), &l).unwrap();
        let bytes = std::fs::read(&spool).unwrap();
        assert!(
            bytes.starts_with(&[0x1b, 0x40]),
            "ESC @ initialises the printer"
        );
        assert!(
            bytes.windows(2).any(|w| w == [0x1d, 0x56]),
            "GS V cuts the paper"
        );
        assert!(bytes.windows(9).any(|w| w == b"D1-000042"));
        let golden =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/receipt.escpos");
        if std::env::var_os("DAFTAR_UPDATE_GENERATED").is_some() {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, &bytes).unwrap();
        }
        assert_eq!(
            bytes,
            std::fs::read(&golden).expect("the golden file (DAFTAR_UPDATE_GENERATED=1 writes it)"),
            "the ESC/POS job changed"
        );
    }

    #[test]
    fn a_printer_is_named_by_address_or_path() {
        assert_eq!(
            "tcp:192.168.1.50:9100".parse(),
            Ok(PrinterTarget::Network {
                host: "192.168.1.50".into(),
                port: 9100
            })
        );
        assert_eq!(
            "file:/dev/usb/lp0".parse(),
            Ok(PrinterTarget::File("/dev/usb/lp0".into()))
        );
        assert!("lpt1".parse::<PrinterTarget>().is_err());
    }
}
