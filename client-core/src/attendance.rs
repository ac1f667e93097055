//! Attendance rules both sides compute identically (ARCHITECTURE.md §5), beside the ledger's
//! allocation: which mark wins when a register is marked again. The server applies it when a
//! marking arrives; a device applies it to what it shows before the server confirms, so a
//! teacher's phone already shows the office's marks it did not replace. No I/O.

pub use crate::protocol::MarkSource;

/// What marking a student with a code does to the mark the register already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precedence {
    /// Nothing changes: the student already has that code (and the mark keeps who made it, so
    /// an office re-marking a whole register does not turn every teacher mark into its own).
    Unchanged,
    /// A teacher's marking does not replace the office's mark: the office mark stays, and the
    /// student is reported in `kept_office_overrides`.
    KeepsOfficeMark,
    /// The office is changing a teacher's mark and must give a reason; nothing is written.
    NeedsReason,
    /// The new mark is written (with the marker's source).
    Write,
}

/// The rule: the current mark is last-writer-wins in server-arrival order, except that an
/// office mark beats a teacher mark, and the office must give a reason to change a teacher's
/// mark. `current` is the mark's code and source (`None` when unmarked); `wanted` the code being
/// marked, `by` who marks, `reason_given` whether the marking carries a reason.
///
/// Codes are compared with `==`, so the server passes code ids and a device may pass either.
pub fn precedence<C: PartialEq>(
    current: Option<(&C, MarkSource)>,
    wanted: &C,
    by: MarkSource,
    reason_given: bool,
) -> Precedence {
    match current {
        None => Precedence::Write,
        Some((code, MarkSource::Office)) if by == MarkSource::Teacher => {
            if code == wanted {
                Precedence::Unchanged
            } else {
                Precedence::KeepsOfficeMark
            }
        }
        Some((code, _)) if code == wanted => Precedence::Unchanged,
        Some((_, MarkSource::Teacher)) if by == MarkSource::Office && !reason_given => {
            Precedence::NeedsReason
        }
        Some(_) => Precedence::Write,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MarkSource::{Office, Teacher};

    #[test]
    fn an_unmarked_student_is_written_by_anyone() {
        for by in [Teacher, Office] {
            for reason in [false, true] {
                assert_eq!(precedence(None, &"P", by, reason), Precedence::Write);
            }
        }
    }

    #[test]
    fn the_same_code_changes_nothing_and_keeps_its_marker() {
        for current in [Teacher, Office] {
            for by in [Teacher, Office] {
                assert_eq!(
                    precedence(Some((&"A", current)), &"A", by, false),
                    Precedence::Unchanged,
                    "{current:?} mark, {by:?} marks"
                );
            }
        }
    }

    #[test]
    fn a_teacher_never_replaces_an_office_mark() {
        for reason in [false, true] {
            assert_eq!(
                precedence(Some((&"E", Office)), &"A", Teacher, reason),
                Precedence::KeepsOfficeMark
            );
        }
    }

    #[test]
    fn the_office_changes_a_teacher_mark_only_with_a_reason() {
        assert_eq!(
            precedence(Some((&"A", Teacher)), &"E", Office, false),
            Precedence::NeedsReason
        );
        assert_eq!(
            precedence(Some((&"A", Teacher)), &"E", Office, true),
            Precedence::Write
        );
    }

    #[test]
    fn otherwise_the_last_marking_wins() {
        assert_eq!(
            precedence(Some((&"P", Teacher)), &"A", Teacher, false),
            Precedence::Write
        );
        assert_eq!(
            precedence(Some((&"P", Office)), &"A", Office, false),
            Precedence::Write
        );
    }
}
