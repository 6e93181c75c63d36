//! Every user-facing string of the widget and of the server's first-paint HTML, in one table.
//! English, German, French and Spanish; a language is picked from `data-lang` or the page's
//! `lang` by its first two letters, falling back to English.

pub mod errors;
pub mod pages;

/// The strings of one language. `{n}`, `{title}`, `{name}` and `{time}` are placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strings {
    pub lang: &'static str,
    pub count_zero_titled: &'static str,
    pub count_one_titled: &'static str,
    pub count_many_titled: &'static str,
    pub count_zero: &'static str,
    pub count_one: &'static str,
    pub count_many: &'static str,
    pub leave_reply: &'static str,
    pub reply_to: &'static str,
    pub reply: &'static str,
    pub cancel_reply: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub email_note: &'static str,
    pub website: &'static str,
    /// The form's "Notify me of follow-up comments" boxes: replies to the reader's comment,
    /// or every new comment on the page.
    pub notify_replies: &'static str,
    pub notify_thread: &'static str,
    pub comment: &'static str,
    pub markdown_hint: &'static str,
    pub preview: &'static str,
    pub write: &'static str,
    pub post: &'static str,
    pub posting: &'static str,
    pub retry: &'static str,
    pub network_error: &'static str,
    pub load_error: &'static str,
    pub posted: &'static str,
    pub edit: &'static str,
    pub delete: &'static str,
    pub save: &'static str,
    pub cancel: &'static str,
    pub confirm_delete: &'static str,
    pub yes_delete: &'static str,
    pub deleted_announce: &'static str,
    pub minutes_left: &'static str,
    pub seconds_left: &'static str,
    pub edited: &'static str,
    pub tombstone: &'static str,
    pub in_reply_to: &'static str,
    pub show_more_replies_one: &'static str,
    pub show_more_replies: &'static str,
    /// The button over the thread for comments that arrived live.
    pub show_new: &'static str,
    pub load_more: &'static str,
    pub loading: &'static str,
    pub sort_label: &'static str,
    pub oldest: &'static str,
    pub newest: &'static str,
    pub anonymous: &'static str,
    /// Who a reply to a deleted comment answers ("in reply to a deleted comment").
    pub deleted_author: &'static str,
    pub awaiting_moderation: &'static str,
    /// Shown instead of the form when the thread is locked or the site read-only.
    pub comments_closed: &'static str,
    /// The mark of a comment a moderator pinned to the top.
    pub pinned: &'static str,
    /// Instead of `edited` when the last edit was a moderator's.
    pub edited_by_moderator: &'static str,
    pub just_now: &'static str,
    pub minutes_ago_one: &'static str,
    pub minutes_ago: &'static str,
    pub hours_ago_one: &'static str,
    pub hours_ago: &'static str,
    pub days_ago_one: &'static str,
    pub days_ago: &'static str,
    pub on_date: &'static str,
    pub nothing_to_preview: &'static str,
    pub comments_region: &'static str,
}

pub const EN: Strings = Strings {
    lang: "en",
    count_zero_titled: "No Responses to “{title}”",
    count_one_titled: "One Response to “{title}”",
    count_many_titled: "{n} Responses to “{title}”",
    count_zero: "No comments yet",
    count_one: "One comment",
    count_many: "{n} comments",
    leave_reply: "Leave a Reply",
    reply_to: "Reply to {name}",
    reply: "Reply",
    cancel_reply: "Cancel reply",
    name: "Name",
    email: "Email",
    email_note: "(will not be published)",
    website: "Website",
    notify_replies: "Notify me of replies to my comment by email",
    notify_thread: "Notify me of all new comments by email",
    comment: "Comment",
    markdown_hint: "You can use Markdown: *italic*, **bold**, [link](https://…), > quote, `code`.",
    preview: "Preview",
    write: "Write",
    post: "Post Comment",
    posting: "Posting…",
    retry: "Retry",
    network_error: "Could not reach the comment server. Your text is kept here; try again.",
    load_error: "Comments could not be loaded.",
    posted: "Your comment was posted.",
    edit: "Edit",
    delete: "Delete",
    save: "Save",
    cancel: "Cancel",
    confirm_delete: "Delete this comment?",
    yes_delete: "Yes, delete",
    deleted_announce: "Your comment was deleted.",
    minutes_left: "{n} min left to edit",
    seconds_left: "{n} s left to edit",
    edited: "edited",
    tombstone: "This comment was deleted.",
    in_reply_to: "in reply to {name}",
    show_more_replies_one: "Show 1 more reply",
    show_more_replies: "Show {n} more replies",
    show_new: "Show new comments ({n})",
    load_more: "Load more comments",
    loading: "Loading…",
    sort_label: "Sort",
    oldest: "Oldest first",
    newest: "Newest first",
    anonymous: "Anonymous",
    deleted_author: "a deleted comment",
    awaiting_moderation: "Your comment is awaiting moderation.",
    comments_closed: "Comments are closed.",
    pinned: "Pinned",
    edited_by_moderator: "edited by a moderator",
    just_now: "just now",
    minutes_ago_one: "1 minute ago",
    minutes_ago: "{n} minutes ago",
    hours_ago_one: "1 hour ago",
    hours_ago: "{n} hours ago",
    days_ago_one: "yesterday",
    days_ago: "{n} days ago",
    on_date: "on {time}",
    nothing_to_preview: "Nothing to preview yet.",
    comments_region: "Comments",
};

pub const DE: Strings = Strings {
    lang: "de",
    count_zero_titled: "Keine Antworten auf „{title}“",
    count_one_titled: "Eine Antwort auf „{title}“",
    count_many_titled: "{n} Antworten auf „{title}“",
    count_zero: "Noch keine Kommentare",
    count_one: "Ein Kommentar",
    count_many: "{n} Kommentare",
    leave_reply: "Schreibe einen Kommentar",
    reply_to: "Antwort an {name}",
    reply: "Antworten",
    cancel_reply: "Antwort abbrechen",
    name: "Name",
    email: "E-Mail",
    email_note: "(wird nicht veröffentlicht)",
    website: "Website",
    notify_replies: "Bei Antworten auf meinen Kommentar per E-Mail benachrichtigen",
    notify_thread: "Bei allen neuen Kommentaren per E-Mail benachrichtigen",
    comment: "Kommentar",
    markdown_hint: "Markdown geht: *kursiv*, **fett**, [Link](https://…), > Zitat, `Code`.",
    preview: "Vorschau",
    write: "Schreiben",
    post: "Kommentar abschicken",
    posting: "Wird gesendet…",
    retry: "Erneut versuchen",
    network_error: "Der Kommentar-Server ist nicht erreichbar. Dein Text bleibt erhalten; versuche es noch einmal.",
    load_error: "Die Kommentare konnten nicht geladen werden.",
    posted: "Dein Kommentar wurde veröffentlicht.",
    edit: "Bearbeiten",
    delete: "Löschen",
    save: "Speichern",
    cancel: "Abbrechen",
    confirm_delete: "Diesen Kommentar löschen?",
    yes_delete: "Ja, löschen",
    deleted_announce: "Dein Kommentar wurde gelöscht.",
    minutes_left: "noch {n} Min. zum Bearbeiten",
    seconds_left: "noch {n} s zum Bearbeiten",
    edited: "bearbeitet",
    tombstone: "Dieser Kommentar wurde gelöscht.",
    in_reply_to: "als Antwort auf {name}",
    show_more_replies_one: "1 weitere Antwort zeigen",
    show_more_replies: "{n} weitere Antworten zeigen",
    show_new: "Neue Kommentare zeigen ({n})",
    load_more: "Weitere Kommentare laden",
    loading: "Lädt…",
    sort_label: "Sortierung",
    oldest: "Älteste zuerst",
    newest: "Neueste zuerst",
    anonymous: "Anonym",
    deleted_author: "einen gelöschten Kommentar",
    awaiting_moderation: "Dein Kommentar wartet auf Freischaltung.",
    comments_closed: "Die Kommentare sind geschlossen.",
    pinned: "Angeheftet",
    edited_by_moderator: "von der Moderation bearbeitet",
    just_now: "gerade eben",
    minutes_ago_one: "vor 1 Minute",
    minutes_ago: "vor {n} Minuten",
    hours_ago_one: "vor 1 Stunde",
    hours_ago: "vor {n} Stunden",
    days_ago_one: "gestern",
    days_ago: "vor {n} Tagen",
    on_date: "am {time}",
    nothing_to_preview: "Noch nichts für die Vorschau.",
    comments_region: "Kommentare",
};

pub const FR: Strings = Strings {
    lang: "fr",
    count_zero_titled: "Aucune réponse à « {title} »",
    count_one_titled: "Une réponse à « {title} »",
    count_many_titled: "{n} réponses à « {title} »",
    count_zero: "Pas encore de commentaire",
    count_one: "Un commentaire",
    count_many: "{n} commentaires",
    leave_reply: "Laisser un commentaire",
    reply_to: "Répondre à {name}",
    reply: "Répondre",
    cancel_reply: "Annuler la réponse",
    name: "Nom",
    email: "E-mail",
    email_note: "(ne sera pas publié)",
    website: "Site web",
    notify_replies: "M’avertir par e-mail des réponses à mon commentaire",
    notify_thread: "M’avertir par e-mail de tous les nouveaux commentaires",
    comment: "Commentaire",
    markdown_hint: "Markdown accepté : *italique*, **gras**, [lien](https://…), > citation, `code`.",
    preview: "Aperçu",
    write: "Écrire",
    post: "Publier le commentaire",
    posting: "Envoi…",
    retry: "Réessayer",
    network_error: "Impossible de joindre le serveur de commentaires. Votre texte est conservé ; réessayez.",
    load_error: "Les commentaires n’ont pas pu être chargés.",
    posted: "Votre commentaire a été publié.",
    edit: "Modifier",
    delete: "Supprimer",
    save: "Enregistrer",
    cancel: "Annuler",
    confirm_delete: "Supprimer ce commentaire ?",
    yes_delete: "Oui, supprimer",
    deleted_announce: "Votre commentaire a été supprimé.",
    minutes_left: "encore {n} min pour modifier",
    seconds_left: "encore {n} s pour modifier",
    edited: "modifié",
    tombstone: "Ce commentaire a été supprimé.",
    in_reply_to: "en réponse à {name}",
    show_more_replies_one: "Afficher 1 autre réponse",
    show_more_replies: "Afficher {n} autres réponses",
    show_new: "Afficher les nouveaux commentaires ({n})",
    load_more: "Charger plus de commentaires",
    loading: "Chargement…",
    sort_label: "Tri",
    oldest: "Plus anciens d’abord",
    newest: "Plus récents d’abord",
    anonymous: "Anonyme",
    deleted_author: "un commentaire supprimé",
    awaiting_moderation: "Votre commentaire est en attente de modération.",
    comments_closed: "Les commentaires sont fermés.",
    pinned: "Épinglé",
    edited_by_moderator: "modifié par la modération",
    just_now: "à l’instant",
    minutes_ago_one: "il y a 1 minute",
    minutes_ago: "il y a {n} minutes",
    hours_ago_one: "il y a 1 heure",
    hours_ago: "il y a {n} heures",
    days_ago_one: "hier",
    days_ago: "il y a {n} jours",
    on_date: "le {time}",
    nothing_to_preview: "Rien à prévisualiser pour l’instant.",
    comments_region: "Commentaires",
};

pub const ES: Strings = Strings {
    lang: "es",
    count_zero_titled: "Sin respuestas a «{title}»",
    count_one_titled: "Una respuesta a «{title}»",
    count_many_titled: "{n} respuestas a «{title}»",
    count_zero: "Aún no hay comentarios",
    count_one: "Un comentario",
    count_many: "{n} comentarios",
    leave_reply: "Deja una respuesta",
    reply_to: "Responder a {name}",
    reply: "Responder",
    cancel_reply: "Cancelar respuesta",
    name: "Nombre",
    email: "Correo electrónico",
    email_note: "(no se publicará)",
    website: "Web",
    notify_replies: "Avisarme por correo de las respuestas a mi comentario",
    notify_thread: "Avisarme por correo de todos los comentarios nuevos",
    comment: "Comentario",
    markdown_hint: "Puedes usar Markdown: *cursiva*, **negrita**, [enlace](https://…), > cita, `código`.",
    preview: "Vista previa",
    write: "Escribir",
    post: "Publicar comentario",
    posting: "Enviando…",
    retry: "Reintentar",
    network_error: "No se pudo contactar con el servidor de comentarios. Tu texto se conserva; inténtalo de nuevo.",
    load_error: "No se pudieron cargar los comentarios.",
    posted: "Tu comentario se ha publicado.",
    edit: "Editar",
    delete: "Borrar",
    save: "Guardar",
    cancel: "Cancelar",
    confirm_delete: "¿Borrar este comentario?",
    yes_delete: "Sí, borrar",
    deleted_announce: "Tu comentario se ha borrado.",
    minutes_left: "quedan {n} min para editar",
    seconds_left: "quedan {n} s para editar",
    edited: "editado",
    tombstone: "Este comentario fue borrado.",
    in_reply_to: "en respuesta a {name}",
    show_more_replies_one: "Mostrar 1 respuesta más",
    show_more_replies: "Mostrar {n} respuestas más",
    show_new: "Mostrar comentarios nuevos ({n})",
    load_more: "Cargar más comentarios",
    loading: "Cargando…",
    sort_label: "Orden",
    oldest: "Más antiguos primero",
    newest: "Más recientes primero",
    anonymous: "Anónimo",
    deleted_author: "un comentario borrado",
    awaiting_moderation: "Tu comentario está pendiente de moderación.",
    comments_closed: "Los comentarios están cerrados.",
    pinned: "Fijado",
    edited_by_moderator: "editado por la moderación",
    just_now: "ahora mismo",
    minutes_ago_one: "hace 1 minuto",
    minutes_ago: "hace {n} minutos",
    hours_ago_one: "hace 1 hora",
    hours_ago: "hace {n} horas",
    days_ago_one: "ayer",
    days_ago: "hace {n} días",
    on_date: "el {time}",
    nothing_to_preview: "Nada que previsualizar todavía.",
    comments_region: "Comentarios",
};

/// Every language, English first.
pub const ALL: [&Strings; 4] = [&EN, &DE, &FR, &ES];

impl Strings {
    /// The table for a language tag such as `de-AT`; English when unknown.
    pub fn for_lang(tag: &str) -> &'static Strings {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        ALL.iter()
            .copied()
            .find(|s| s.lang == primary)
            .unwrap_or(&EN)
    }

    /// The note after an edited comment's time: who edited it matters to readers.
    pub fn edited_label(&self, by_moderator: bool) -> &'static str {
        if by_moderator {
            self.edited_by_moderator
        } else {
            self.edited
        }
    }

    /// The thread header: "16 Responses to “Title”", with zero and one forms.
    pub fn count_heading(&self, n: u32, title: Option<&str>) -> String {
        let template = match (n, title.filter(|t| !t.trim().is_empty())) {
            (0, Some(_)) => self.count_zero_titled,
            (1, Some(_)) => self.count_one_titled,
            (_, Some(_)) => self.count_many_titled,
            (0, None) => self.count_zero,
            (1, None) => self.count_one,
            (_, None) => self.count_many,
        };
        fill(
            template,
            &[
                ("n", &n.to_string()),
                ("title", title.unwrap_or_default().trim()),
            ],
        )
    }

    /// The name shown for a comment's author, wherever it is shown (its header, "in reply to
    /// …", "Reply to …"): the name, "Anonymous" when there is none, and for a tombstone (which
    /// keeps no name) "a deleted comment", so a reply always names what it answers.
    pub fn author_name<'a>(&'a self, author: &'a str, deleted: bool) -> &'a str {
        match (deleted, author.is_empty()) {
            (true, _) => self.deleted_author,
            (false, true) => self.anonymous,
            (false, false) => author,
        }
    }

    /// "Show 3 more replies".
    pub fn more_replies(&self, n: usize) -> String {
        if n == 1 {
            self.show_more_replies_one.to_owned()
        } else {
            fill(self.show_more_replies, &[("n", &n.to_string())])
        }
    }

    /// "5 minutes ago", falling back to the date after a week.
    pub fn relative_time(&self, now_ms: i64, then_ms: i64) -> String {
        let minutes = now_ms.saturating_sub(then_ms).max(0) / 60_000;
        let (one, many, n) = match minutes {
            0 => return self.just_now.to_owned(),
            1..=59 => (self.minutes_ago_one, self.minutes_ago, minutes),
            60..=1439 => (self.hours_ago_one, self.hours_ago, minutes / 60),
            1440..=10079 => (self.days_ago_one, self.days_ago, minutes / 1440),
            _ => return fill(self.on_date, &[("time", &iso_date(then_ms))]),
        };
        if n == 1 {
            one.to_owned()
        } else {
            fill(many, &[("n", &n.to_string())])
        }
    }

    /// "12 min left to edit".
    pub fn time_left(&self, ms: i64) -> String {
        let secs = (ms / 1000).max(0);
        if secs < 60 {
            fill(self.seconds_left, &[("n", &secs.to_string())])
        } else {
            fill(self.minutes_left, &[("n", &((secs + 59) / 60).to_string())])
        }
    }
}

/// Replaces `{key}` placeholders.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (key, value) in values {
        out = out.replace(&format!("{{{key}}}"), value);
    }
    out
}

/// `YYYY-MM-DD` (UTC) of a Unix time in milliseconds.
pub fn iso_date(ms: i64) -> String {
    let (y, m, d, _, _) = civil(ms);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix time in milliseconds.
pub fn iso_datetime(ms: i64) -> String {
    let (y, m, d, hh, mm) = civil(ms);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02} UTC")
}

/// `YYYY-MM-DDTHH:MM:SSZ`, for `<time datetime>`.
pub fn rfc3339(ms: i64) -> String {
    let (y, m, d, hh, mm) = civil(ms);
    let ss = ms.div_euclid(1000).rem_euclid(60);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil(ms: i64) -> (i64, i64, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60)
}
