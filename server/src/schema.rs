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
    class_teachers (school_id, class_id, teacher_id) {
        school_id -> Uuid,
        class_id -> Uuid,
        teacher_id -> Uuid,
        is_primary -> Bool,
        sourced_id -> Nullable<Text>,
        created_at -> Timestamptz,
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
    users (school_id, id) {
        school_id -> Uuid,
        id -> Uuid,
        username -> Text,
        display_name -> Text,
        role -> Text,
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
diesel::joinable!(audit_log -> schools (school_id));
diesel::joinable!(campuses -> schools (school_id));
diesel::joinable!(families -> schools (school_id));
diesel::joinable!(users -> schools (school_id));

diesel::allow_tables_to_appear_in_same_query!(
    academic_years,
    audit_log,
    campuses,
    class_teachers,
    classes,
    devices,
    enrollments,
    families,
    guardians,
    refresh_tokens,
    schools,
    student_guardians,
    students,
    terms,
    users,
);
