"""Word lists for the redaction rules: ordinary words that are never personal data.

deduce's own whitelist is the 1,000 most frequent words of Dutch *clinical* text, so
chat language ("hoi", "sws", "mam"), English ("My", "Just", "Well") and titles
("meneer", "juf") slip through and get taken for names or places. These lists fill
that gap. They are data, not logic: keep them lowercase, one concern per set.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Dutch function words, frequent verbs and adverbs, chat language, greetings, family
# and relationship words, titles: none of them is ever a person's name in a chat.
DUTCH = _words(
    """
    aan achter af al alle alleen allemaal alles als alsjeblieft alstublieft altijd ander andere anders
    bedankt beetje begin ben benen bent ber bij bijna binnen blij blijf blijft boos bovendien brr buiten
    daar daarna daarom dag dan dank dankje dankjewel dankuwel dat de deed den denk denkt der deze die dik
    dingen dit doe doei doen doet door dr dus echt een eens eerst eigenlijk eindelijk elk elke en enz
    er erg ergens even fijn ff ga gaan gaat geen geeft gehad geld gelukkig gemaakt genoeg gewoon gezegd
    gisteren gister goed goedemiddag goedemorgen goedenavond goedenmiddag graag groetjes haar hadden had
    hallo hartelijk hé hee heey hey hoi hai heb hebben hebt heel heeft hele help hem hen het hier hij hoe
    hoezo hoor hou houd hun huh ik in is ja jaa jah je jij jou jouw jullie kan keer kijk klopt kom komen
    komt krijg kun kunnen kunt laat laatst lang later liefs liever lol maar mag me mee meer meestal mega
    men met mij mijn minder misschien mn mocht moet moeten mogelijk mss na naar nadat natuurlijk nee neee
    nergens net niet niets nieuw nieuwe nog nogmaals nooit nou nu of ok oke oké okay om omdat omg ons onze
    ook op over pas precies prima rond sinds sorry sowieso sws te tegen terwijl thnx thx toch toen tot
    tussen uit uw vaak van vanaf vandaag vanavond vanmiddag vanmorgen vannacht veel ver verder via vind
    vindt voor vooral waar waarom wanneer want waren was wat we weer weet wel welke wie wij wil wilde
    wilt word worden wordt wtf ze zei zeg zegt zelf zich zie ziet zij zijn zo zoals zodat zomaar zonder
    zou zouden zus zusje zussen broer broertje broers mama mam mams papa pap paps ma pa oma opa tante oom
    neef nicht nichtje vriend vriendin vriendje vriendinnetje vrienden vriendinnen moeder vader ouders
    dochter zoon kind kinderen meisje jongen man vrouw baby stiefvader stiefmoeder pleegouders mentor
    meneer mevrouw mevr mw dhr juf juffrouw meester dokter docent leraar lerares agent politie school
    maandag dinsdag woensdag donderdag vrijdag zaterdag zondag weekend morgen middag avond nacht week
    maand jaar uur idk btw ikke jep nope yes okido hmm hm ah oh oei au help hulp bang alleen thuis weg
    privé prive gehackt verwijderd openbaar dicht kapot geblokkeerd geblokt nep appen leeg vals gesloten
    open actief kwijt beveiligd online offline
    geweest zeggen nodigt werkt werken woont wonen speelt traint zit zat zitten staat stond ging gingen kwam
    kwamen komt helpt hielp weten wist belt belde stuurt stuurde appt zag zien vroeg vraagt slaapt sliep
    praten haalt haalde brengt bracht noemt noemde maakt maakte neemt nam geworden gedaan gezien gehoord
    gevraagd gestuurd gebeld gegaan gekomen wacht wachten dreigt chanteert bedreigt pest pesten dwingt dwingen
    gaf liet kreeg vond moest kon riep sloeg keek pakte schreeuwde lachte wilde mocht had
    bel app stuur mail vraag zeg wacht zoek neem geef laat praat meld check schrijf lees bekijk klik kom
    blijf groetjes groeten gr mvg kus kusjes liefs beste lieve merci xx xxx volgens
    vent gast gasten gozer kerel kerels gup meid meiden wijf chick dude bro
    """
)

# English: the most frequent words plus chat language and family words. Names that are
# also words (Rose, Grace, Hope, Sky, Mark...) are deliberately absent: mid-sentence and
# capitalised they are names.
ENGLISH = _words(
    """
    a about above after again against all almost also always am an and any anyone anything are around as
    ask asked at away back be because been before being below best better between both but by call called
    can cannot could dad daddy day days did do does doing done down during each else even ever every
    everyone everything for from get gets getting give go goes going gone good got had has have having he
    hello help her here hers herself hey hi him himself his how however i if in into is it its itself just
    know last later least less let like look looked lot love made make many maybe me might mine more
    morning most mother mom mommy mum mummy much must my myself need never new next night no nobody none
    nor not nothing now of off often oh ok okay on once one only or other our ours ourselves out over own
    please really right said same say says see she should since so some someone something sometimes son
    sorry still such sure take tell than thank thanks that the their theirs them themselves then there
    these they thing things think this those though through to today together tomorrow too under until
    up upon us very was we well went were what when where whether which while who whom whose why will
    with within without would yeah yes yesterday yet you your yours yourself yourselves father brother
    sister friend friends boyfriend girlfriend parents parent family uncle aunt cousin niece nephew
    grandma grandpa teacher coach police school mr mrs ms miss sir madam dear monday tuesday wednesday
    thursday friday saturday sunday weekend january february march april june july august september
    october november december sent born boy girl man woman kid kids baby lol omg idk wtf btw pls plz thx
    ty u ur im dont cant wont didnt doesnt isnt yesterday anyway bye goodbye evening afternoon private
    hacked deleted blocked fake public new honestly actually basically seriously literally probably
    apparently tonight sometimes usually suddenly finally recently unfortunately luckily hopefully
    obviously definitely perhaps already earlier first although tell ask text message send let only
    dear welcome hallo
    """
)

# Capitalised at the start of a sentence these are ordinary words ("Will you help?",
# "May I ask?", "Hope you can help"); anywhere else they are taken for names.
SENTENCE_INITIAL = _words("will may hope mark guy bill chase grace faith joy sunny")

# Surname particles: kept inside a name when trimming ordinary words off its edges.
INTERFIXES = _words("van de der den het ten ter te 't el al da di du la le von zu op in")

COMMON = DUTCH | ENGLISH

# Countries, big regions and their adjectives, in Dutch and English, as the gazetteers
# hold some of them: a country ("ik kom uit Polen") identifies no one, and
# (the islands of the Kingdom, Curaçao, Aruba, Bonaire, are small places: not here)
# "een Engels nummer" is not a place.
COUNTRIES = _words(
    """
    nederland holland belgie belgië duitsland frankrijk engeland schotland wales ierland noord-ierland
    spanje portugal italie italië griekenland oostenrijk zwitserland denemarken zweden noorwegen finland
    ijsland polen tsjechie tsjechië slowakije hongarije roemenie roemenië bulgarije kroatie kroatië servie
    servië bosnie bosnië albanie albanië kosovo macedonie macedonië oekraine oekraïne rusland wit-rusland
    moldavie moldavië litouwen letland estland turkije marokko algerije tunesie tunesië libie libië egypte
    syrie syrië irak iran afghanistan pakistan india bangladesh china japan korea vietnam thailand
    filipijnen indonesie indonesië maleisie maleisië eritrea ethiopie ethiopië somalie somalië soedan
    sudan nigeria ghana kameroen congo angola kenia oeganda zuid-afrika suriname antillen amerika
    verenigde staten canada mexico brazilie brazilië colombia venezuela
    argentinie argentinië chili peru jemen libanon israel israël palestina jordanie jordanië
    saoedi-arabie saoedi-arabië emiraten qatar koeweit georgie georgië armenie armenië azerbeidzjan
    europa afrika azie azië
    netherlands belgium germany france england scotland ireland spain italy greece austria switzerland
    denmark sweden norway poland czechia hungary romania bulgaria croatia serbia bosnia albania ukraine
    russia turkey morocco algeria tunisia libya egypt syria iraq afghanistan eritrea ethiopia somalia
    philippines indonesia vietnam america usa uk britain jamaica brazil europe africa asia
    nederlands engels duits frans pools turks marokkaans syrisch belgisch spaans italiaans
    english dutch german french polish turkish moroccan syrian
    """
)

# Two-letter suffixes that turn "1000mg" or "2019 en" into something that is not a postcode.
NOT_POSTCODE_LETTERS = _words(
    """
    mg gr kg km cm mm ml cl dl kb mb gb tb hz kw pk st nd rd th ct uu
    en in op is de of al om te ik je ze we en ja nu zo na at on to an as by if it me my no so up us or
    am be do go he hi ok oh
    """
)

# Tokens that look like user names but are ordinary ("covid19", "mp3").
NOT_ACCOUNTS = _words("covid19 covid-19 mp3 mp4 h2o 4g 5g ps4 ps5 win10 win11")
