//! The downloadable admissions template: the header row the import reads without a mapping,
//! and a second sheet saying what goes in each column.

use daftar_client_core::protocol::AdmissionField;
use rust_xlsxwriter::{Format, Workbook};

/// What a column holds, for the template's "How to fill" sheet.
pub fn help(field: AdmissionField) -> &'static str {
    match field {
        AdmissionField::AdmissionNo => "Required. The school's admission number; importing the same number again updates that student.",
        AdmissionField::GivenName => "Required for a new student.",
        AdmissionField::FamilyName => "Required for a new student.",
        AdmissionField::DateOfBirth => "A date cell, or text YYYY-MM-DD or DD/MM/YYYY (day first).",
        AdmissionField::Gender => "Optional, as the school writes it.",
        AdmissionField::Grade => "Optional; taken from the class when empty.",
        AdmissionField::Class => "Optional. The class's name or code as the school has it (the class must exist).",
        AdmissionField::FamilyKey => "Optional. Rows with the same key are siblings in one family (one fee account). Without it, rows with the same guardian phone are grouped.",
        AdmissionField::GuardianGivenName => "Needed when any guardian column is filled.",
        AdmissionField::GuardianFamilyName => "The student's family name when empty.",
        AdmissionField::GuardianRelationship => "mother, father, guardian, …",
        AdmissionField::GuardianPhone => "7 to 15 digits, optional + in front.",
        AdmissionField::GuardianEmail => "Optional.",
    }
}

/// The template as an `.xlsx` workbook: sheet "Students" with the header row (bold, frozen,
/// every cell formatted as text so Excel keeps leading zeros of phones and admission numbers,
/// except the date column), and sheet "How to fill".
///
/// Errors: only on an internal writer failure.
pub fn xlsx() -> anyhow::Result<Vec<u8>> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let as_text = Format::new().set_num_format("@");
    let as_date = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = book.add_worksheet();
    sheet.set_name("Students")?;
    for (c, field) in AdmissionField::ALL.iter().enumerate() {
        let c = c as u16;
        sheet.write_string_with_format(0, c, field.key(), &bold)?;
        let format = if *field == AdmissionField::DateOfBirth {
            &as_date
        } else {
            &as_text
        };
        sheet.set_column_format(c, format)?;
        sheet.set_column_width(c, 18)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    let help_sheet = book.add_worksheet();
    help_sheet.set_name("How to fill")?;
    for (c, h) in ["column", "what it holds"].iter().enumerate() {
        help_sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, field) in (1u32..).zip(AdmissionField::ALL) {
        help_sheet.write_string(r, 0, field.key())?;
        help_sheet.write_string(r, 1, help(field))?;
    }
    help_sheet.set_column_width(0, 24)?;
    help_sheet.set_column_width(1, 100)?;
    Ok(book.save_to_buffer()?)
}

/// The template as CSV (UTF-8 with a byte-order mark, so Excel opens Urdu names correctly):
/// the header row only.
pub fn csv() -> Vec<u8> {
    let header: Vec<&str> = AdmissionField::ALL.iter().map(|f| f.key()).collect();
    format!("\u{feff}{}\r\n", header.join(",")).into_bytes()
}
