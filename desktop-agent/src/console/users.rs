//! The users page (issue #17, "Users … admin pages to invite/create users, set or reset
//! passwords (shown once), lock/unlock, assign roles and classes"): every login of the school
//! with its roles, state and the classes a teacher teaches; create a login with a generated
//! password, reset a password, lock (sign out everywhere at once, no further sign-in) and
//! unlock, set the roles (several at once: an admin who also teaches, an accountant who is
//! also a parent), and assign a teacher to a class.
//!
//! A generated password is shown once, on the page that made it, and is kept nowhere by the
//! console. For the admin only; users live on the server, so offline the page says so and
//! changes nothing. A user whose password changed signs in with the new one wherever the
//! computer can reach the server; an office computer that has not seen the change still takes
//! the old one offline until that user next signs in online there.

use actix_web::{web, HttpRequest, HttpResponse};
use daftar_client_core::client::{Api, ClientError};
use daftar_client_core::protocol::{
    Class, CreateUserRequest, Role, Roles, TeacherAssignment, UpdateUserRequest, User,
};
use maud::{html, Markup};
use rand::seq::SliceRandom;
use uuid::Uuid;

use super::forms::{admin_form, optional, Fields};
use super::page;
use super::{admin_user, call_server, Console, Session};

const WHAT: &str = "The users page";

/// Letters and digits that cannot be mistaken for one another when read aloud or copied from
/// a screen (no 0/o, 1/l/i).
const PASSWORD_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Routes of the users page.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(users_page))
        .route("/users", web::post().to(create_user))
        .route("/users/{id}/password", web::post().to(reset_password))
        .route("/users/{id}/lock", web::post().to(lock))
        .route("/users/{id}/unlock", web::post().to(unlock))
        .route("/users/{id}/roles", web::post().to(change_roles))
        .route("/users/{id}/two-factor", web::post().to(reset_two_factor))
        .route("/users/assign-class", web::post().to(assign_class));
}

/// A new password: three groups of four from [`PASSWORD_ALPHABET`] (`abcd-efgh-jkmn`, about
/// 59 bits from the OS-seeded thread RNG), within the server's 10..=256 characters.
pub fn generate_password() -> String {
    let mut rng = rand::thread_rng();
    (0..3)
        .map(|_| {
            (0..4)
                .map(|_| *PASSWORD_ALPHABET.choose(&mut rng).unwrap_or(&b'a') as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The roles ticked on a form (a `role_<name>` field for each), at least one.
///
/// Errors: the message for the page when none is ticked.
fn ticked_roles(f: &Fields) -> Result<Roles, String> {
    let roles: Roles = Role::ALL
        .into_iter()
        .filter(|r| f.contains_key(&format!("role_{}", r.as_str())))
        .collect();
    if roles.is_empty() {
        return Err("Roles: tick at least one".to_string());
    }
    Ok(roles)
}

/// One checkbox per role, `checked` ticked; ids `{id_prefix}-{role}` when given.
fn role_boxes(checked: Roles, id_prefix: Option<&str>) -> Markup {
    html! {
        @for r in Role::ALL {
            label.role-box {
                @if let Some(p) = id_prefix {
                    input type="checkbox" name=(format!("role_{}", r.as_str())) id=(format!("{p}-{}", r.as_str())) checked[checked.has(r)];
                } @else {
                    input type="checkbox" name=(format!("role_{}", r.as_str())) checked[checked.has(r)];
                }
                " " (r.as_str())
            }
            " "
        }
    }
}

/// The users and, per teacher, the classes they teach.
struct Listing {
    users: Vec<User>,
    classes: Vec<Class>,
    teaching: Vec<TeacherAssignment>,
}

impl Listing {
    fn read(api: &Api) -> Result<Listing, ClientError> {
        let classes: Vec<Class> = api
            .classes()?
            .items
            .into_iter()
            .filter(|c| c.active)
            .collect();
        Ok(Listing {
            users: api.users()?.items,
            classes,
            teaching: api.all_class_teachers()?,
        })
    }

    /// The classes `user` teaches, each with its subject: `Grade 3-A (Mathematics)`.
    fn classes_of(&self, user: Uuid) -> Vec<String> {
        self.teaching
            .iter()
            .filter(|t| t.teacher_id == user)
            .filter_map(|t| {
                let class = self.classes.iter().find(|c| c.id == t.class_id)?;
                Some(match &t.subject {
                    Some(s) => format!("{} ({s})", class.name),
                    None => class.name.clone(),
                })
            })
            .collect()
    }
}

fn unavailable(e: &ClientError) -> Markup {
    page::needs_server(
        e,
        html! { "Users are kept on the server, and the server is not answering now. Try again when the internet is back; nothing was changed." },
        "the change",
        "users-error",
    )
}

fn user_row(l: &Listing, u: &User, session: &Session) -> Markup {
    let me = u.id == session.user_id;
    let post = |what: &str| format!("/users/{}/{what}", u.id);
    html! {
        tr.user data-username=(u.username) data-state=(if u.active { "active" } else { "locked" }) {
            td { (u.display_name) " " span.muted { "(" (u.username) ")" } @if me { " " strong { "(you)" } } }
            td.role { (u.role_set().names()) }
            td { @if let Some(e) = &u.email { (e) " " } @if let Some(p) = &u.phone { span.muted { (p) } } }
            td.classes { (l.classes_of(u.id).join(", ")) }
            td.state { @if u.active { "Active" } @else { span.error { "Locked" } } }
            td {
                @if !me {
                    form.inline method="post" action=(post("password")) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button.reset-password type="submit" { "Reset password" }
                    }
                    " "
                    @if u.active {
                        form.inline method="post" action=(post("lock")) {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button.lock type="submit" { "Lock" }
                        }
                    } @else {
                        form.inline method="post" action=(post("unlock")) {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button.unlock type="submit" { "Unlock" }
                        }
                    }
                    " "
                    @if u.role_set().is_office() {
                        form.inline method="post" action=(post("two-factor")) {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button.reset-two-factor type="submit" title="For a lost phone: turns their two-factor login off and signs them out everywhere" { "Reset two-factor" }
                        }
                        " "
                    }
                    form.inline.roles-form method="post" action=(post("roles")) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        (role_boxes(u.role_set(), None))
                        button.change-roles type="submit" { "Save roles" }
                    }
                }
            }
        }
    }
}

/// The page with `notice` on top.
async fn render(
    console: &Console,
    session: &Session,
    status: u16,
    notice: Option<Markup>,
) -> HttpResponse {
    let read = call_server(console, Listing::read).await;
    let status = match &read {
        Err(e) if status == 200 => page::server_status(e),
        _ => status,
    };
    let body = html! {
        h1 { "Users" }
        p.muted { "Everyone who signs in: staff on the office computers and phones, parents on the phone app. Locking a user signs them out everywhere at once; unlocking lets them sign in again. A reset password is shown once, here: give it to the person, who signs in with it. Taking a role away signs the user out everywhere; an added role reaches their open sessions within 15 minutes, or at once when they sign in again." }
        @if let Some(n) = notice { (n) }
        @match &read {
            Err(e) => (unavailable(e)),
            Ok(l) => {
                table #user-list {
                    tr { th { "User" } th { "Roles" } th { "Contact" } th { "Teaches" } th { "State" } th {} }
                    @for u in &l.users { (user_row(l, u, session)) }
                }
                h2 { "Add a user" }
                form #user-form method="post" action="/users" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label { "Username " input #user-username name="username" required; }
                    " " label { "Name " input #user-name name="display_name" required; }
                    " " span #user-roles { "Roles " (role_boxes(Roles::of([Role::Teacher]), Some("user-role"))) }
                    " " label { "E-mail " input #user-email name="email" type="email"; }
                    " " label { "Phone " input #user-phone name="phone"; }
                    " " button #create-user type="submit" { "Add user" }
                    p.muted { "A password is made for them and shown once. Tick every role the person holds: a teacher who is also a parent sees their classes and their own children; an admin or accountant sees the whole school." }
                }
                @let teachers: Vec<&User> = l.users.iter().filter(|u| u.active && u.role_set().has(Role::Teacher)).collect();
                @if !teachers.is_empty() && !l.classes.is_empty() {
                    h2 { "Assign a teacher to a class" }
                    form #assign-form method="post" action="/users/assign-class" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        label { "Teacher " select #assign-teacher name="teacher_id" {
                            @for u in &teachers { option value=(u.id) { (u.display_name) " (" (u.username) ")" } }
                        } }
                        " " label { "Class " select #assign-class name="class_id" {
                            @for c in &l.classes { option value=(c.id) { (c.name) } }
                        } }
                        " " label { "Subject " input #assign-subject name="subject" placeholder="Mathematics" maxlength="100"; }
                        " " button #assign-teacher-button type="submit" { "Assign" }
                        p.muted { "A teacher sees and marks the registers of their classes only. The subject is what they teach there (leave it empty for a class teacher); assigning again changes it." }
                    }
                }
            }
        }
    };
    console
        .with_store(|store| page::html_response(status, page::frame(store, session, "Users", body)))
}

async fn users_page(console: web::Data<Console>, req: HttpRequest) -> HttpResponse {
    match admin_user(&console, &req, WHAT) {
        Ok(session) => render(&console, &session, 200, None).await,
        Err(r) => *r,
    }
}

type Form = web::Form<Vec<(String, String)>>;

/// Sends `change`; the page again with `done`'s notice or why it was refused.
async fn apply<T: Send + 'static>(
    console: &Console,
    session: &Session,
    change: impl FnOnce(&Api) -> Result<T, ClientError> + Send + 'static,
    done: impl FnOnce(T) -> Markup,
) -> HttpResponse {
    match call_server(console, change).await {
        Ok(t) => render(console, session, 200, Some(done(t))).await,
        Err(e) => {
            let status = page::server_status(&e);
            render(console, session, status, Some(unavailable(&e))).await
        }
    }
}

fn invalid(message: String) -> Markup {
    html! { p.error #users-error { (message) } }
}

fn password_notice(user: &User, password: &str, what: &str) -> Markup {
    html! {
        div.notice #password-shown data-username=(user.username) {
            p { (what) " " strong { (user.display_name) } " (" (user.username) "). Their password is:" }
            p { code #new-password { (password) } }
            p.muted { "It is shown only now. Give it to them in person; they can sign in with it at once." }
        }
    }
}

async fn create_user(console: web::Data<Console>, req: HttpRequest, form: Form) -> HttpResponse {
    let (session, f) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let built = (|| -> Result<CreateUserRequest, String> {
        Ok(CreateUserRequest {
            id: Some(Uuid::now_v7()),
            username: optional(&f, "username")
                .ok_or("Username: this is needed")?
                .to_string(),
            display_name: optional(&f, "display_name")
                .ok_or("Name: this is needed")?
                .to_string(),
            role: None,
            roles: ticked_roles(&f)?.to_vec(),
            password: generate_password(),
            email: optional(&f, "email").map(str::to_string),
            phone: optional(&f, "phone").map(str::to_string),
        })
    })();
    let request = match built {
        Ok(r) => r,
        Err(m) => return render(&console, &session, 422, Some(invalid(m))).await,
    };
    let password = request.password.clone();
    apply(
        &console,
        &session,
        move |api| api.create_user(&request),
        move |u| password_notice(&u, &password, "Added"),
    )
    .await
}

async fn reset_password(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: Form,
) -> HttpResponse {
    let (session, _) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let id = path.into_inner();
    let password = generate_password();
    let change = UpdateUserRequest {
        password: Some(password.clone()),
        ..UpdateUserRequest::default()
    };
    apply(
        &console,
        &session,
        move |api| api.update_user(id, &change),
        move |u| password_notice(&u, &password, "New password for"),
    )
    .await
}

async fn set_active(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: Form,
    active: bool,
) -> HttpResponse {
    let (session, _) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let id = path.into_inner();
    let change = UpdateUserRequest {
        active: Some(active),
        ..UpdateUserRequest::default()
    };
    apply(
        &console,
        &session,
        move |api| api.update_user(id, &change),
        move |u| {
            html! { p.notice #users-done {
                @if active { "Unlocked " strong { (u.display_name) } ": they can sign in again." }
                @else { "Locked " strong { (u.display_name) } ": signed out everywhere, and no sign-in until unlocked." }
            } }
        },
    )
    .await
}

async fn lock(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: Form,
) -> HttpResponse {
    set_active(console, req, path, form, false).await
}

async fn unlock(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: Form,
) -> HttpResponse {
    set_active(console, req, path, form, true).await
}

async fn change_roles(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: Form,
) -> HttpResponse {
    let (session, f) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let roles = match ticked_roles(&f) {
        Ok(r) => r,
        Err(m) => return render(&console, &session, 422, Some(invalid(m))).await,
    };
    let id = path.into_inner();
    let change = UpdateUserRequest {
        roles: Some(roles.to_vec()),
        ..UpdateUserRequest::default()
    };
    apply(
        &console,
        &session,
        move |api| api.update_user(id, &change),
        |u| html! { p.notice #users-done { (u.display_name) " is now " (u.role_set().names()) "." } },
    )
    .await
}

async fn reset_two_factor(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: Form,
) -> HttpResponse {
    let (session, _) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let id = path.into_inner();
    apply(
        &console,
        &session,
        move |api| api.reset_two_factor(id),
        |()| html! { p.notice #users-done { "Two-factor login is off for that user and they are signed out everywhere: they sign in with their password and can turn it on again." } },
    )
    .await
}

async fn assign_class(console: web::Data<Console>, req: HttpRequest, form: Form) -> HttpResponse {
    let (session, f) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let ids = (
        optional(&f, "teacher_id").and_then(|v| v.parse::<Uuid>().ok()),
        optional(&f, "class_id").and_then(|v| v.parse::<Uuid>().ok()),
    );
    let (Some(teacher), Some(class)) = ids else {
        let m = "Teacher and class: choose one of each from the lists".to_string();
        return render(&console, &session, 422, Some(invalid(m))).await;
    };
    // An empty subject field assigns without one (and clears an earlier one).
    let subject = Some(optional(&f, "subject").unwrap_or_default().to_string());
    apply(
        &console,
        &session,
        move |api| api.assign_teacher(class, teacher, subject.as_deref()),
        |()| html! { p.notice #users-done { "Assigned." } },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_enough_and_unambiguous() {
        let a = generate_password();
        assert_eq!(a.len(), 14, "{a}");
        assert!(a.len() >= 10, "the server takes 10..=256 characters");
        assert!(a
            .chars()
            .all(|c| c == '-' || PASSWORD_ALPHABET.contains(&(c as u8))));
        assert_ne!(a, generate_password(), "two passwords differ");
    }
}
