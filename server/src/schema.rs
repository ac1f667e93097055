// @generated automatically by Diesel CLI.

diesel::table! {
    academic_years (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        name -> Text,
        starts_on -> Date,
        ends_on -> Date,
        sourced_id -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    accounts (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        code -> Text,
        name -> Text,
        kind -> Text,
        system_key -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    admission_import_mappings (school_id) {
        school_id -> Uuid,
        headers -> Jsonb,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    allocations (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        journal_entry_id -> Uuid,
        invoice_line_id -> Uuid,
        amount -> Int8,
    }
}

diesel::table! {
    applied_ops (school_id, op_id) {
        school_id -> Uuid,
        op_id -> Uuid,
        client_id -> Uuid,
        device_id -> Uuid,
        seq -> Int8,
        mutation -> Text,
        request_hash -> Bytea,
        status -> Text,
        version -> Nullable<Int8>,
        result -> Jsonb,
        args -> Jsonb,
        device_created_at -> Nullable<Timestamptz>,
        applied_at -> Timestamptz,
        resolved_at -> Nullable<Timestamptz>,
        resolved_by -> Nullable<Uuid>,
        resolution -> Nullable<Text>,
    }
}

diesel::table! {
    attendance_codes (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        code -> Text,
        label -> Text,
        category -> Text,
        active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    attendance_mark_history (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        register_id -> Uuid,
        student_id -> Uuid,
        code_id -> Uuid,
        source -> Text,
        reason -> Nullable<Text>,
        marked_by -> Uuid,
        device_id -> Nullable<Uuid>,
        marked_at -> Timestamptz,
    }
}

diesel::table! {
    attendance_marks (school_id, register_id, student_id) {
        school_id -> Uuid,
        register_id -> Uuid,
        student_id -> Uuid,
        code_id -> Uuid,
        source -> Text,
        reason -> Nullable<Text>,
        marked_by -> Uuid,
        device_id -> Nullable<Uuid>,
        marked_at -> Timestamptz,
    }
}

diesel::table! {
    audit_log (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        actor_id -> Nullable<Uuid>,
        device_id -> Nullable<Uuid>,
        action -> Text,
        entity -> Text,
        entity_id -> Text,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        at -> Timestamptz,
    }
}

diesel::table! {
    campuses (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        name -> Text,
        sourced_id -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    change_log (school_id, entity, row_key) {
        school_id -> Uuid,
        entity -> Text,
        row_key -> Text,
        version -> Int8,
        deleted -> Bool,
        row -> Nullable<Jsonb>,
        everyone -> Bool,
        class_id -> Nullable<Uuid>,
        family_id -> Nullable<Uuid>,
        student_id -> Nullable<Uuid>,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    change_log_horizons (school_id) {
        school_id -> Uuid,
        version -> Int8,
        compacted_at -> Timestamptz,
    }
}

diesel::table! {
    class_teachers (school_id, class_id, teacher_id) {
        school_id -> Uuid,
        class_id -> Uuid,
        teacher_id -> Uuid,
        is_primary -> Bool,
        sourced_id -> Nullable<Text>,
        created_at -> Timestamptz,
        subject -> Nullable<Text>,
    }
}

diesel::table! {
    classes (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        academic_year_id -> Uuid,
        term_id -> Nullable<Uuid>,
        campus_id -> Nullable<Uuid>,
        name -> Text,
        grade -> Text,
        section -> Text,
        code -> Nullable<Text>,
        homeroom_teacher_id -> Nullable<Uuid>,
        active -> Bool,
        sourced_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    device_activity (school_id, device_id) {
        school_id -> Uuid,
        device_id -> Uuid,
        last_seen_at -> Timestamptz,
        last_pull_at -> Nullable<Timestamptz>,
        last_push_at -> Nullable<Timestamptz>,
        queued_ops -> Nullable<Int4>,
    }
}

diesel::table! {
    devices (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        user_id -> Uuid,
        name -> Text,
        kind -> Text,
        receipt_series -> Text,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    discounts (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        invoice_line_id -> Uuid,
        kind -> Text,
        percent_bp -> Nullable<Int4>,
        amount -> Int8,
        reason -> Text,
        approved_by -> Uuid,
        journal_entry_id -> Uuid,
        request_hash -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    enrollments (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        class_id -> Uuid,
        student_id -> Uuid,
        starts_on -> Nullable<Date>,
        ends_on -> Nullable<Date>,
        active -> Bool,
        sourced_id -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    families (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        name -> Text,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    fee_heads (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        name -> Text,
        income_account_id -> Uuid,
        active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    fee_schedules (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        term_id -> Uuid,
        class_id -> Uuid,
        fee_head_id -> Uuid,
        amount -> Int8,
        due_on -> Date,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    fines (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        invoice_id -> Uuid,
        invoice_line_id -> Uuid,
        amount -> Int8,
        reason -> Text,
        journal_entry_id -> Uuid,
        request_hash -> Bytea,
        created_at -> Timestamptz,
        late_fine_rule_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    guardian_notifications (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        kind -> Text,
        register_id -> Uuid,
        student_id -> Uuid,
        guardian_id -> Uuid,
        phone -> Nullable<Text>,
        message -> Text,
        status -> Text,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    guardians (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        family_id -> Uuid,
        user_id -> Nullable<Uuid>,
        given_name -> Text,
        family_name -> Text,
        relationship -> Text,
        phone -> Nullable<Text>,
        email -> Nullable<Text>,
        active -> Bool,
        sourced_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    invoice_lines (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        invoice_id -> Uuid,
        line_no -> Int4,
        fee_head_id -> Uuid,
        description -> Text,
        amount -> Int8,
        due_on -> Date,
    }
}

diesel::table! {
    invoices (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        invoice_no -> Int8,
        family_id -> Uuid,
        student_id -> Uuid,
        term_id -> Uuid,
        issued_on -> Date,
        journal_entry_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    journal_entries (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        entry_no -> Int8,
        kind -> Text,
        occurred_on -> Date,
        memo -> Text,
        reverses_entry_id -> Nullable<Uuid>,
        posted_by -> Nullable<Uuid>,
        device_id -> Nullable<Uuid>,
        posted_at -> Timestamptz,
    }
}

diesel::table! {
    journal_lines (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        entry_id -> Uuid,
        line_no -> Int4,
        account_id -> Uuid,
        amount -> Int8,
        family_id -> Nullable<Uuid>,
        student_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    late_fine_rules (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        name -> Text,
        grace_days -> Int4,
        amount -> Int8,
        active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    login_throttles (attempt_key) {
        attempt_key -> Bytea,
        failures -> Int4,
        locked_until -> Nullable<Timestamptz>,
        last_failed_at -> Timestamptz,
    }
}

diesel::table! {
    payment_reversals (school_id, payment_id) {
        school_id -> Uuid,
        payment_id -> Uuid,
        reason -> Text,
        journal_entry_id -> Uuid,
        reversed_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    payments (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        family_id -> Nullable<Uuid>,
        amount -> Int8,
        #[max_length = 3]
        currency -> Bpchar,
        method -> Text,
        reference -> Nullable<Text>,
        received_at -> Timestamptz,
        received_by -> Nullable<Uuid>,
        device_id -> Nullable<Uuid>,
        receipt_no -> Text,
        to_credit -> Int8,
        to_suspense -> Int8,
        request_hash -> Bytea,
        journal_entry_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    receipt_series (school_id, series) {
        school_id -> Uuid,
        series -> Text,
        next_no -> Int8,
    }
}

diesel::table! {
    refresh_tokens (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        family_id -> Uuid,
        user_id -> Uuid,
        device_id -> Nullable<Uuid>,
        token_hash -> Bytea,
        issued_at -> Timestamptz,
        expires_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    refunds (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        family_id -> Uuid,
        amount -> Int8,
        method -> Text,
        reason -> Text,
        journal_entry_id -> Uuid,
        request_hash -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    registers (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        class_id -> Uuid,
        on_date -> Date,
        period -> Int2,
        taken_at -> Nullable<Timestamptz>,
        taken_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    school_counters (school_id, name) {
        school_id -> Uuid,
        name -> Text,
        value -> Int8,
    }
}

diesel::table! {
    school_logos (school_id) {
        school_id -> Uuid,
        content_type -> Text,
        image -> Bytea,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    school_two_factor_policy (school_id) {
        school_id -> Uuid,
        required -> Bool,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    schools (id) {
        id -> Uuid,
        slug -> Text,
        name -> Text,
        #[max_length = 3]
        currency -> Bpchar,
        timezone -> Text,
        sourced_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        attendance_edit_window_days -> Int4,
        max_amount -> Int8,
        address -> Text,
        logo_updated_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sql_functions (sha256) {
        sha256 -> Bytea,
        applied_at -> Timestamptz,
    }
}

diesel::table! {
    student_guardians (school_id, student_id, guardian_id) {
        school_id -> Uuid,
        student_id -> Uuid,
        guardian_id -> Uuid,
    }
}

diesel::table! {
    students (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        family_id -> Uuid,
        admission_no -> Text,
        given_name -> Text,
        family_name -> Text,
        date_of_birth -> Nullable<Date>,
        gender -> Nullable<Text>,
        grade -> Text,
        email -> Nullable<Text>,
        active -> Bool,
        sourced_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    suspense_resolutions (school_id, payment_id) {
        school_id -> Uuid,
        payment_id -> Uuid,
        family_id -> Uuid,
        journal_entry_id -> Uuid,
        resolved_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    sync_clients (school_id, client_id) {
        school_id -> Uuid,
        client_id -> Uuid,
        device_id -> Uuid,
        last_seq -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    sync_conflicts (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        op_id -> Uuid,
        entity -> Text,
        row_id -> Uuid,
        field -> Text,
        base_value -> Nullable<Jsonb>,
        server_value -> Nullable<Jsonb>,
        losing_value -> Nullable<Jsonb>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    terms (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        academic_year_id -> Uuid,
        name -> Text,
        starts_on -> Date,
        ends_on -> Date,
        active -> Bool,
        sourced_id -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    user_recovery_codes (school_id, user_id, code_hash) {
        school_id -> Uuid,
        user_id -> Uuid,
        code_hash -> Bytea,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    user_roles (school_id, user_id, role) {
        school_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        granted_at -> Timestamptz,
    }
}

diesel::table! {
    user_two_factor (school_id, user_id) {
        school_id -> Uuid,
        user_id -> Uuid,
        secret -> Bytea,
        confirmed_at -> Nullable<Timestamptz>,
        last_used_step -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    users (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        username -> Text,
        display_name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        active -> Bool,
        failed_logins -> Int4,
        locked_until -> Nullable<Timestamptz>,
        sourced_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(academic_years -> schools (school_id));
diesel::joinable!(accounts -> schools (school_id));
diesel::joinable!(admission_import_mappings -> schools (school_id));
diesel::joinable!(attendance_codes -> schools (school_id));
diesel::joinable!(audit_log -> schools (school_id));
diesel::joinable!(campuses -> schools (school_id));
diesel::joinable!(change_log_horizons -> schools (school_id));
diesel::joinable!(families -> schools (school_id));
diesel::joinable!(fee_heads -> schools (school_id));
diesel::joinable!(journal_entries -> schools (school_id));
diesel::joinable!(late_fine_rules -> schools (school_id));
diesel::joinable!(receipt_series -> schools (school_id));
diesel::joinable!(school_counters -> schools (school_id));
diesel::joinable!(school_logos -> schools (school_id));
diesel::joinable!(school_two_factor_policy -> schools (school_id));
diesel::joinable!(users -> schools (school_id));

diesel::allow_tables_to_appear_in_same_query!(
    academic_years,
    accounts,
    admission_import_mappings,
    allocations,
    applied_ops,
    attendance_codes,
    attendance_mark_history,
    attendance_marks,
    audit_log,
    campuses,
    change_log,
    change_log_horizons,
    class_teachers,
    classes,
    device_activity,
    devices,
    discounts,
    enrollments,
    families,
    fee_heads,
    fee_schedules,
    fines,
    guardian_notifications,
    guardians,
    invoice_lines,
    invoices,
    journal_entries,
    journal_lines,
    late_fine_rules,
    login_throttles,
    payment_reversals,
    payments,
    receipt_series,
    refresh_tokens,
    refunds,
    registers,
    school_counters,
    school_logos,
    school_two_factor_policy,
    schools,
    sql_functions,
    student_guardians,
    students,
    suspense_resolutions,
    sync_clients,
    sync_conflicts,
    terms,
    user_recovery_codes,
    user_roles,
    user_two_factor,
    users,
);
