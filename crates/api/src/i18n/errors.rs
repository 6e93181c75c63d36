//! What a reader is told when the server refuses something they can fix or wait out: the one
//! table from error code to message, in every language of [`crate::i18n`].
//!
//! The server words its errors from this table, in the language the widget asks for with
//! `Accept-Language` (the widget's own language), and the widget shows the server's message:
//! so the table costs the widget's download nothing. Errors only a developer can cause (a
//! malformed request, a page key the loader got wrong) have no entry and stay in English.

use crate::ErrorCode;
use crate::limits::{MAX_BODY_BYTES, MAX_MARKDOWN_DEPTH, MAX_NAME_CHARS, MAX_REPLY_DEPTH};

/// The messages of one language. `{n}` is a limit, or the seconds to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorTexts {
    pub lang: &'static str,
    pub name_too_long: &'static str,
    pub invalid_email: &'static str,
    pub invalid_website: &'static str,
    pub body_empty: &'static str,
    pub body_too_long: &'static str,
    pub markdown_too_deep: &'static str,
    pub nesting_too_deep: &'static str,
    pub parent_not_found: &'static str,
    pub parent_on_other_page: &'static str,
    pub comment_not_found: &'static str,
    pub edit_key_invalid: &'static str,
    pub edit_window_expired: &'static str,
    pub comments_closed: &'static str,
    pub duplicate_comment: &'static str,
    pub subscription_not_found: &'static str,
    /// Over the budget for posting, editing and deleting.
    pub writing_too_fast: &'static str,
    /// Over the budget for expensive reads (previews, counts, uncached threads).
    pub reading_too_fast: &'static str,
    /// The server cannot reach its database for a moment.
    pub unavailable: &'static str,
    pub internal: &'static str,
}

pub const EN: ErrorTexts = ErrorTexts {
    lang: "en",
    name_too_long: "Please keep your name under {n} characters.",
    invalid_email: "That e-mail address does not look right (like name@example.com).",
    invalid_website: "Your website must be an http:// or https:// address.",
    body_empty: "Please write a comment first.",
    body_too_long: "Your comment could not be accepted: the comment is longer than {n} bytes.",
    markdown_too_deep: "Your comment could not be accepted: quotes and lists are nested more than {n} deep.",
    nesting_too_deep: "Replies can nest at most {n} levels deep; reply higher up the thread.",
    parent_not_found: "The comment you are replying to no longer exists.",
    parent_on_other_page: "The comment you are replying to is on another page.",
    comment_not_found: "There is no such comment.",
    edit_key_invalid: "This comment can only be changed from the browser that posted it.",
    edit_window_expired: "The time to edit or delete this comment has passed.",
    comments_closed: "Comments are closed.",
    duplicate_comment: "You posted this comment already. Write something new, or wait for an answer.",
    subscription_not_found: "This link is not valid, or that subscription has already ended.",
    writing_too_fast: "You are commenting too fast. Please wait {n} seconds and try again.",
    reading_too_fast: "You are sending requests too fast. Please wait {n} seconds and try again.",
    unavailable: "Comments are briefly unavailable. Please try again in a moment.",
    internal: "Something went wrong on the server. Please try again.",
};

pub const DE: ErrorTexts = ErrorTexts {
    lang: "de",
    name_too_long: "Bitte halte deinen Namen unter {n} Zeichen.",
    invalid_email: "Diese E-Mail-Adresse sieht nicht richtig aus (etwa name@example.com).",
    invalid_website: "Deine Website muss eine http://- oder https://-Adresse sein.",
    body_empty: "Bitte schreib zuerst einen Kommentar.",
    body_too_long: "Dein Kommentar ist zu lang: höchstens {n} Bytes.",
    markdown_too_deep: "Dein Kommentar ist zu tief verschachtelt: Zitate und Listen höchstens {n} Ebenen.",
    nesting_too_deep: "Antworten lassen sich höchstens {n} Ebenen tief verschachteln; antworte weiter oben.",
    parent_not_found: "Der Kommentar, auf den du antwortest, existiert nicht mehr.",
    parent_on_other_page: "Der Kommentar, auf den du antwortest, steht auf einer anderen Seite.",
    comment_not_found: "Diesen Kommentar gibt es nicht.",
    edit_key_invalid: "Dieser Kommentar lässt sich nur in dem Browser ändern, in dem er geschrieben wurde.",
    edit_window_expired: "Die Zeit zum Bearbeiten oder Löschen dieses Kommentars ist abgelaufen.",
    comments_closed: "Die Kommentare sind geschlossen.",
    duplicate_comment: "Diesen Kommentar hast du schon geschrieben. Schreib etwas Neues oder warte auf eine Antwort.",
    subscription_not_found: "Dieser Link ist ungültig, oder das Abonnement wurde bereits beendet.",
    writing_too_fast: "Du kommentierst zu schnell. Bitte warte {n} Sekunden und versuch es noch einmal.",
    reading_too_fast: "Zu viele Anfragen. Bitte warte {n} Sekunden und versuch es noch einmal.",
    unavailable: "Die Kommentare sind kurz nicht erreichbar. Bitte versuch es gleich noch einmal.",
    internal: "Auf dem Server ist etwas schiefgegangen. Bitte versuch es noch einmal.",
};

pub const FR: ErrorTexts = ErrorTexts {
    lang: "fr",
    name_too_long: "Votre nom doit faire moins de {n} caractères.",
    invalid_email: "Cette adresse e-mail ne semble pas correcte (par exemple nom@example.com).",
    invalid_website: "Votre site doit être une adresse http:// ou https://.",
    body_empty: "Écrivez d’abord un commentaire.",
    body_too_long: "Votre commentaire est trop long : {n} octets au plus.",
    markdown_too_deep: "Votre commentaire est trop imbriqué : citations et listes sur {n} niveaux au plus.",
    nesting_too_deep: "Les réponses s’imbriquent sur {n} niveaux au plus ; répondez plus haut dans la discussion.",
    parent_not_found: "Le commentaire auquel vous répondez n’existe plus.",
    parent_on_other_page: "Le commentaire auquel vous répondez est sur une autre page.",
    comment_not_found: "Ce commentaire n’existe pas.",
    edit_key_invalid: "Ce commentaire ne peut être modifié que depuis le navigateur qui l’a publié.",
    edit_window_expired: "Le délai pour modifier ou supprimer ce commentaire est passé.",
    comments_closed: "Les commentaires sont fermés.",
    duplicate_comment: "Vous avez déjà publié ce commentaire. Écrivez autre chose ou attendez une réponse.",
    subscription_not_found: "Ce lien n’est pas valide, ou cet abonnement a déjà pris fin.",
    writing_too_fast: "Vous commentez trop vite. Attendez {n} secondes et réessayez.",
    reading_too_fast: "Trop de requêtes. Attendez {n} secondes et réessayez.",
    unavailable: "Les commentaires sont momentanément indisponibles. Veuillez réessayer dans un instant.",
    internal: "Une erreur s’est produite sur le serveur. Veuillez réessayer.",
};

pub const ES: ErrorTexts = ErrorTexts {
    lang: "es",
    name_too_long: "Tu nombre debe tener menos de {n} caracteres.",
    invalid_email: "Esa dirección de correo no parece correcta (por ejemplo nombre@example.com).",
    invalid_website: "Tu sitio web debe ser una dirección http:// o https://.",
    body_empty: "Escribe primero un comentario.",
    body_too_long: "Tu comentario es demasiado largo: como máximo {n} bytes.",
    markdown_too_deep: "Tu comentario está demasiado anidado: citas y listas de {n} niveles como máximo.",
    nesting_too_deep: "Las respuestas se anidan {n} niveles como máximo; responde más arriba.",
    parent_not_found: "El comentario al que respondes ya no existe.",
    parent_on_other_page: "El comentario al que respondes está en otra página.",
    comment_not_found: "Ese comentario no existe.",
    edit_key_invalid: "Este comentario solo se puede cambiar desde el navegador en el que se publicó.",
    edit_window_expired: "Ya pasó el tiempo para editar o borrar este comentario.",
    comments_closed: "Los comentarios están cerrados.",
    duplicate_comment: "Ya publicaste este comentario. Escribe algo nuevo o espera una respuesta.",
    subscription_not_found: "Este enlace no es válido, o esa suscripción ya ha terminado.",
    writing_too_fast: "Estás comentando demasiado rápido. Espera {n} segundos y vuelve a intentarlo.",
    reading_too_fast: "Demasiadas solicitudes. Espera {n} segundos y vuelve a intentarlo.",
    unavailable: "Los comentarios no están disponibles por un momento. Inténtalo de nuevo enseguida.",
    internal: "Algo salió mal en el servidor. Inténtalo de nuevo.",
};

pub const ALL: [&ErrorTexts; 4] = [&EN, &DE, &FR, &ES];

impl ErrorTexts {
    /// The table for a language tag such as `de-AT` or an `Accept-Language` value such as
    /// `fr-CA,fr;q=0.9`; English when unknown.
    pub fn for_lang(tag: &str) -> &'static ErrorTexts {
        let first = tag.split([',', ';']).next().unwrap_or_default().trim();
        let lang = super::Strings::for_lang(first).lang;
        ALL.iter().copied().find(|t| t.lang == lang).unwrap_or(&EN)
    }

    /// The message for `code` with its limit filled in; `None` for codes only a developer
    /// causes and for rate limits (see [`ErrorTexts::too_fast`]).
    pub fn message(&self, code: ErrorCode) -> Option<String> {
        let (template, n) = match code {
            ErrorCode::NameTooLong => (self.name_too_long, MAX_NAME_CHARS as u64),
            ErrorCode::InvalidEmail => (self.invalid_email, 0),
            ErrorCode::InvalidWebsite => (self.invalid_website, 0),
            ErrorCode::BodyEmpty => (self.body_empty, 0),
            ErrorCode::BodyTooLong => (self.body_too_long, MAX_BODY_BYTES as u64),
            ErrorCode::MarkdownTooDeep => (self.markdown_too_deep, MAX_MARKDOWN_DEPTH as u64),
            ErrorCode::NestingTooDeep => (self.nesting_too_deep, u64::from(MAX_REPLY_DEPTH)),
            ErrorCode::ParentNotFound => (self.parent_not_found, 0),
            ErrorCode::ParentOnOtherPage => (self.parent_on_other_page, 0),
            ErrorCode::CommentNotFound => (self.comment_not_found, 0),
            ErrorCode::EditKeyInvalid => (self.edit_key_invalid, 0),
            ErrorCode::EditWindowExpired => (self.edit_window_expired, 0),
            ErrorCode::CommentsClosed => (self.comments_closed, 0),
            ErrorCode::DuplicateComment => (self.duplicate_comment, 0),
            ErrorCode::SubscriptionNotFound => (self.subscription_not_found, 0),
            ErrorCode::StoreUnavailable => (self.unavailable, 0),
            ErrorCode::Internal => (self.internal, 0),
            _ => return None,
        };
        Some(super::fill(template, &[("n", &n.to_string())]))
    }

    /// Over a rate limit: wait `secs` seconds (`writes`: the budget for comments, else the one
    /// for expensive reads).
    pub fn too_fast(&self, writes: bool, secs: u64) -> String {
        let template = if writes {
            self.writing_too_fast
        } else {
            self.reading_too_fast
        };
        super::fill(template, &[("n", &secs.to_string())])
    }
}
