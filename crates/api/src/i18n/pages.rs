//! The words of what the server renders as whole documents: feeds and the thread page for
//! readers without JavaScript, in every language of [`crate::i18n`]. Only the server uses
//! this table, so it costs the widget's download nothing (the widget's own words, which the
//! thread page shares, are [`crate::i18n::Strings`]).

/// The words of one language. `{name}` is a commenter, `{title}` a page's title, `{site}` a
/// site id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageTexts {
    pub lang: &'static str,
    /// A feed entry's title; also a line of the recent-comments list.
    pub feed_entry_title: &'static str,
    /// The heading of the recent-comments list (`data-view="recent"`).
    pub recent_comments: &'static str,
    /// The heading of the pingbacks and trackbacks listed under a thread (`{n}`).
    pub pingbacks_one: &'static str,
    pub pingbacks_many: &'static str,
    /// The feed of one page's comments.
    pub feed_of_page: &'static str,
    /// The feed of a site's newest comments.
    pub feed_of_site: &'static str,
    /// The thread page's link back to the post.
    pub back_to_post: &'static str,
    /// The label of the form's trap field, which only bots fill in.
    pub leave_empty: &'static str,
    /// The thread page's link to its feed.
    pub comments_feed: &'static str,
    /// After posting a comment that waits for a moderator.
    pub held_notice: &'static str,
    /// A page's count on an index page (count.js), as WordPress themes word it.
    pub responses_zero: &'static str,
    pub responses_one: &'static str,
    pub responses_many: &'static str,
    /// The page a confirmation mail links to (`{email}`, `{title}`).
    pub confirm_title: &'static str,
    pub confirm_intro: &'static str,
    pub confirm_button: &'static str,
    pub confirmed: &'static str,
    /// The page an unsubscribe link leads to (`{email}`, `{title}`, `{site}`).
    pub unsubscribe_title: &'static str,
    pub unsubscribe_intro: &'static str,
    pub unsubscribe_button: &'static str,
    pub unsubscribe_all_button: &'static str,
    pub unsubscribed: &'static str,
    pub unsubscribed_all: &'static str,
    /// The mail asking a reader to confirm (`{title}`).
    pub mail_confirm_subject: &'static str,
    pub mail_confirm_text: &'static str,
    pub mail_confirm_ignore: &'static str,
    /// The notice to an address that confirmed before, when it is subscribed to another page
    /// (`{site}`): it needs no confirmation, so it is told and can undo it.
    pub mail_subscribed_subject: &'static str,
    pub mail_subscribed_text: &'static str,
    pub mail_subscribed_undo: &'static str,
    /// A follow-up comment's mail (`{name}`, `{title}`).
    pub mail_reply_subject: &'static str,
    pub mail_new_subject: &'static str,
    pub mail_wrote: &'static str,
    pub mail_read_and_reply: &'static str,
    pub mail_why: &'static str,
    pub mail_unsubscribe: &'static str,
}

pub const EN: PageTexts = PageTexts {
    lang: "en",
    feed_entry_title: "{name} on “{title}”",
    recent_comments: "Recent comments",
    pingbacks_one: "One Pingback",
    pingbacks_many: "{n} Pingbacks",
    feed_of_page: "Comments on “{title}”",
    feed_of_site: "Latest comments on {site}",
    back_to_post: "← Back to the post",
    leave_empty: "Leave this empty",
    comments_feed: "Comments feed (Atom)",
    held_notice: "Thank you! Your comment is awaiting moderation and will appear once approved.",
    responses_zero: "No Responses",
    responses_one: "One Response",
    responses_many: "{n} Responses",
    confirm_title: "Confirm your subscription",
    confirm_intro: "Send mail to {email} when there are new comments on “{title}”?",
    confirm_button: "Yes, notify me",
    confirmed: "Done. {email} will get mail about new comments on “{title}”. Every mail has a link to stop them.",
    unsubscribe_title: "Unsubscribe",
    unsubscribe_intro: "Stop mail to {email} about comments on “{title}”?",
    unsubscribe_button: "Unsubscribe",
    unsubscribe_all_button: "Stop all mail from {site}",
    unsubscribed: "You are unsubscribed: no more mail about “{title}” goes to {email}.",
    unsubscribed_all: "You are unsubscribed: no more mail from {site} goes to {email}.",
    mail_confirm_subject: "Confirm: mail you about follow-up comments?",
    mail_confirm_text: "Someone left a comment on {site} with this address and asked to hear about follow-up comments. To get them, confirm here:",
    mail_confirm_ignore: "If that was not you, ignore this mail: nothing more will be sent.",
    mail_subscribed_subject: "Now following a conversation",
    mail_subscribed_text: "A comment was left on {site} with this address, asking for mail about follow-up comments on its page. You confirmed this address on {site} before, so they will come.",
    mail_subscribed_undo: "If that was not you, or you do not want them, unsubscribe here:",
    mail_reply_subject: "{name} replied to your comment on “{title}”",
    mail_new_subject: "New comment by {name} on “{title}”",
    mail_wrote: "{name} wrote:",
    mail_read_and_reply: "Read it and reply",
    mail_why: "You get this mail because you asked to be notified of follow-up comments on “{title}”.",
    mail_unsubscribe: "Unsubscribe",
};

pub const DE: PageTexts = PageTexts {
    lang: "de",
    feed_entry_title: "{name} zu „{title}“",
    recent_comments: "Neueste Kommentare",
    pingbacks_one: "Ein Pingback",
    pingbacks_many: "{n} Pingbacks",
    feed_of_page: "Kommentare zu „{title}“",
    feed_of_site: "Neueste Kommentare auf {site}",
    back_to_post: "← Zurück zum Beitrag",
    leave_empty: "Dieses Feld leer lassen",
    comments_feed: "Kommentar-Feed (Atom)",
    held_notice: "Danke! Ihr Kommentar wartet auf Freischaltung und erscheint, sobald er freigegeben ist.",
    responses_zero: "Keine Antworten",
    responses_one: "Eine Antwort",
    responses_many: "{n} Antworten",
    confirm_title: "Abonnement bestätigen",
    confirm_intro: "Soll {email} bei neuen Kommentaren zu „{title}“ eine E-Mail bekommen?",
    confirm_button: "Ja, benachrichtigen",
    confirmed: "Erledigt. {email} bekommt E-Mails zu neuen Kommentaren zu „{title}“. Jede E-Mail enthält einen Link zum Abbestellen.",
    unsubscribe_title: "Abbestellen",
    unsubscribe_intro: "Keine E-Mails mehr an {email} zu Kommentaren zu „{title}“?",
    unsubscribe_button: "Abbestellen",
    unsubscribe_all_button: "Alle E-Mails von {site} abbestellen",
    unsubscribed: "Abbestellt: {email} bekommt keine E-Mails zu „{title}“ mehr.",
    unsubscribed_all: "Abbestellt: {email} bekommt keine E-Mails von {site} mehr.",
    mail_confirm_subject: "Bestätigen: E-Mails zu weiteren Kommentaren?",
    mail_confirm_text: "Auf {site} hat jemand mit dieser Adresse einen Kommentar hinterlassen und um Nachricht über weitere Kommentare gebeten. Bitte bestätigen Sie hier:",
    mail_confirm_ignore: "Falls Sie das nicht waren, ignorieren Sie diese E-Mail: Es kommt nichts weiter.",
    mail_subscribed_subject: "Sie folgen jetzt einer Unterhaltung",
    mail_subscribed_text: "Auf {site} wurde mit dieser Adresse ein Kommentar hinterlassen und um E-Mails zu weiteren Kommentaren auf dieser Seite gebeten. Sie haben diese Adresse auf {site} schon bestätigt, daher kommen sie.",
    mail_subscribed_undo: "Falls Sie das nicht waren oder sie nicht möchten, melden Sie sich hier ab:",
    mail_reply_subject: "{name} hat auf Ihren Kommentar zu „{title}“ geantwortet",
    mail_new_subject: "Neuer Kommentar von {name} zu „{title}“",
    mail_wrote: "{name} schrieb:",
    mail_read_and_reply: "Lesen und antworten",
    mail_why: "Sie bekommen diese E-Mail, weil Sie über weitere Kommentare zu „{title}“ informiert werden möchten.",
    mail_unsubscribe: "Abbestellen",
};

pub const FR: PageTexts = PageTexts {
    lang: "fr",
    feed_entry_title: "{name} sur « {title} »",
    recent_comments: "Commentaires récents",
    pingbacks_one: "Un rétrolien",
    pingbacks_many: "{n} rétroliens",
    feed_of_page: "Commentaires sur « {title} »",
    feed_of_site: "Derniers commentaires sur {site}",
    back_to_post: "← Retour à l’article",
    leave_empty: "Laissez ce champ vide",
    comments_feed: "Flux des commentaires (Atom)",
    held_notice: "Merci ! Votre commentaire est en attente de modération et apparaîtra une fois approuvé.",
    responses_zero: "Aucune réponse",
    responses_one: "Une réponse",
    responses_many: "{n} réponses",
    confirm_title: "Confirmez votre abonnement",
    confirm_intro: "Envoyer un e-mail à {email} lors de nouveaux commentaires sur « {title} » ?",
    confirm_button: "Oui, m’avertir",
    confirmed: "C’est fait. {email} recevra un e-mail à chaque nouveau commentaire sur « {title} ». Chaque e-mail contient un lien pour arrêter.",
    unsubscribe_title: "Se désabonner",
    unsubscribe_intro: "Ne plus envoyer d’e-mails à {email} au sujet de « {title} » ?",
    unsubscribe_button: "Se désabonner",
    unsubscribe_all_button: "Ne plus rien recevoir de {site}",
    unsubscribed: "Vous êtes désabonné : plus aucun e-mail au sujet de « {title} » n’ira à {email}.",
    unsubscribed_all: "Vous êtes désabonné : plus aucun e-mail de {site} n’ira à {email}.",
    mail_confirm_subject: "Confirmer : recevoir les nouveaux commentaires ?",
    mail_confirm_text: "Quelqu’un a laissé un commentaire sur {site} avec cette adresse et demandé à être averti des nouveaux commentaires. Pour les recevoir, confirmez ici :",
    mail_confirm_ignore: "Si ce n’était pas vous, ignorez cet e-mail : rien d’autre ne sera envoyé.",
    mail_subscribed_subject: "Vous suivez désormais une conversation",
    mail_subscribed_text: "Un commentaire a été laissé sur {site} avec cette adresse, demandant d’être averti des nouveaux commentaires sur sa page. Vous avez déjà confirmé cette adresse sur {site} : ils vous seront envoyés.",
    mail_subscribed_undo: "Si ce n’était pas vous, ou si vous n’en voulez pas, désabonnez-vous ici :",
    mail_reply_subject: "{name} a répondu à votre commentaire sur « {title} »",
    mail_new_subject: "Nouveau commentaire de {name} sur « {title} »",
    mail_wrote: "{name} a écrit :",
    mail_read_and_reply: "Lire et répondre",
    mail_why: "Vous recevez cet e-mail car vous avez demandé à être averti des nouveaux commentaires sur « {title} ».",
    mail_unsubscribe: "Se désabonner",
};

pub const ES: PageTexts = PageTexts {
    lang: "es",
    feed_entry_title: "{name} en «{title}»",
    recent_comments: "Comentarios recientes",
    pingbacks_one: "Un pingback",
    pingbacks_many: "{n} pingbacks",
    feed_of_page: "Comentarios en «{title}»",
    feed_of_site: "Últimos comentarios en {site}",
    back_to_post: "← Volver a la entrada",
    leave_empty: "Deje este campo vacío",
    comments_feed: "Canal de comentarios (Atom)",
    held_notice: "¡Gracias! Su comentario está pendiente de moderación y aparecerá cuando se apruebe.",
    responses_zero: "Sin respuestas",
    responses_one: "Una respuesta",
    responses_many: "{n} respuestas",
    confirm_title: "Confirme su suscripción",
    confirm_intro: "¿Enviar un correo a {email} cuando haya comentarios nuevos en «{title}»?",
    confirm_button: "Sí, avisarme",
    confirmed: "Hecho. {email} recibirá un correo por cada comentario nuevo en «{title}». Cada correo incluye un enlace para dejar de recibirlos.",
    unsubscribe_title: "Darse de baja",
    unsubscribe_intro: "¿Dejar de enviar correos a {email} sobre los comentarios en «{title}»?",
    unsubscribe_button: "Darse de baja",
    unsubscribe_all_button: "No recibir nada más de {site}",
    unsubscribed: "Se ha dado de baja: no se enviarán más correos sobre «{title}» a {email}.",
    unsubscribed_all: "Se ha dado de baja: no se enviarán más correos de {site} a {email}.",
    mail_confirm_subject: "Confirmar: ¿recibir los nuevos comentarios?",
    mail_confirm_text: "Alguien dejó un comentario en {site} con esta dirección y pidió que le avisáramos de nuevos comentarios. Para recibirlos, confirme aquí:",
    mail_confirm_ignore: "Si no fue usted, ignore este correo: no se enviará nada más.",
    mail_subscribed_subject: "Ahora sigue una conversación",
    mail_subscribed_text: "Se dejó un comentario en {site} con esta dirección, pidiendo avisos de nuevos comentarios en su página. Ya confirmó esta dirección en {site}, así que los recibirá.",
    mail_subscribed_undo: "Si no fue usted, o no los quiere, cancele la suscripción aquí:",
    mail_reply_subject: "{name} respondió a su comentario en «{title}»",
    mail_new_subject: "Nuevo comentario de {name} en «{title}»",
    mail_wrote: "{name} escribió:",
    mail_read_and_reply: "Leer y responder",
    mail_why: "Recibe este correo porque pidió que le avisáramos de nuevos comentarios en «{title}».",
    mail_unsubscribe: "Darse de baja",
};

pub const ALL: [&PageTexts; 4] = [&EN, &DE, &FR, &ES];

impl PageTexts {
    /// The table for a language tag such as `de-AT`; English when unknown.
    pub fn for_lang(tag: &str) -> &'static PageTexts {
        let lang = super::Strings::for_lang(tag).lang;
        ALL.iter().copied().find(|t| t.lang == lang).unwrap_or(&EN)
    }
}
