"""Writes messages.jsonl from the lists below (kept as code so a reviewer reads them as text)."""
import json

URGENT_EN = """
There's a man outside my house with a knife shouting that he'll kill my husband.
My neighbour is stood in his front garden with an axe screaming at people walking past.
A gang outside the big Tesco, one of them has a hammer smashing the windows of a car with a woman in it.
Lad with a baseball bat chasing another lad down our street as I type this.
MASSIVE fight outside the pub, loads of them kicking a man on the floor, hes not moving.
I can hear a woman screaming for help in the flats above me.
Someone is trying to break into my back door right now, I'm upstairs with the kids.
There is a man in my garden trying the windows, I'm on my own.
Two men are fighting outside the chippy and one has a broken bottle.
My ex is outside banging on the door saying he is going to kill me.
I think someone has been stabbed on the corner of Bryn Road, he's bleeding everywhere.
A car is driving on the pavement at kids outside the school right now.
Youths are setting fire to the bins next to the flats and it's spreading to a car.
I don't want to be here anymore. I've got the tablets ready and I'm going to take them tonight.
my mate just text me saying hes going to end his life, hes on the bridge
A little boy about 4 is wandering on the dual carriageway on his own.
There's a baby left in a car in the Asda car park in this heat, windows shut, no one around.
Man with a gun outside the bookies, people are running.
Someone is hitting a woman in the street outside number 12, she's crying.
I can see smoke coming out of the empty house and kids ran off laughing, think they set it alight.
He's got a machete and he's walking up and down Hill Street.
There is a drunk driver who just nearly hit three people and is heading towards the village.
Someone is climbing through the window of the house opposite, the family are away.
My son is being attacked by a group at the skate park, please send someone.
A girl is being dragged into a van on Chapel Street!!
there's a bloke punching his dog and kicking it in the park
Neighbour is screaming that her partner is strangling her, I can hear it through the wall.
Kids are throwing bricks off the footbridge onto cars going underneath.
Man threatening the shop staff with a knife at the Spar now.
gang of lads with machetes going past my window towards the park
someone is in my house. I can hear them downstairs. please help.
Man lying on the floor outside the station not breathing, people are just walking past.
A man is waving a gun about in the street.
Our neighbour says he'll burn our house down tonight and he's pouring petrol on the fence.
Theres a fight in the street with knives, one lads on the ground.
My daughter says a man is following her home from the bus and she's scared, she's on the phone to me now.
I'm being followed by a car, it keeps stopping next to me.
Somebody is kicking the front door in next door and the old lady lives alone.
Two cars racing up and down our road at 90, one just missed a kid on a bike.
A man is threatening to jump off the multi storey car park.
He's smashing up the house and the children are inside.
Man with a crowbar breaking into cars on the retail park.
My brother says he's going to stab his girlfriend, he's gone round there.
I've just seen a man pull a knife on someone outside the Co-op.
There is a huge fight going on in the field behind my house, bottles being thrown.
someones stabbed outside the club hes on the floor
Lads are attacking a man at the bus stop, they have bats.
A woman is lying in the road after being hit by a car that drove off.
The house next door is on fire and I think there's still someone inside.
I've taken too many pills and I'm scared.
My husband has locked me in and says he'll hurt me if I call anyone.
A kid is hanging off the edge of the quarry, his mates are panicking.
An old man has collapsed in his garden and isn't moving.
Guy outside with a samurai sword shouting about the voices.
Someone's throwing petrol bombs at the house across the road.
He has a knife to his own throat and is saying goodbye.
Drug dealers are outside my flat with weapons, threatening to come in.
A car has just ploughed into the bus shelter and people are trapped.
Theres blood all over the stairwell and a man groaning.
I'm hiding in the bathroom, my partner is drunk and trying to get in with a knife.
A group are beating someone with sticks in the underpass.
There's a lad with a gun in his waistband by the shops, I saw it.
Some men are forcing their way into the house two doors down, it's happening as I write.
Please help my mum is being hit by her boyfriend.
Kids have set the playground on fire and it's getting bigger.
There's a man exposing himself to children at the park right now.
I can hear gunshots from the estate.
They've just smashed my window and are coming round the back.
A dog is attacking a child on the green, the owner can't stop it.
He said he's going to kill himself when his mum goes to work.
Someone is lying unconscious in the alley behind the pub.
Three blokes are hitting a man with a hammer outside the garage.
A lorry driver is swerving all over the road, he looks drunk, heading for the school.
Thugs are kicking in doors on our landing and threatening people.
A man has grabbed a woman's bag and is punching her.
Help, someone is in my car and won't get out, he has a screwdriver.
Two girls fighting with a knife involved near the bus station.
Someone has just set fire to a car on our street.
Man shouting he has a bomb in his bag at the train station.
Woman is screaming "help me" from the house opposite, door is open.
My flatmate has cut her wrists and won't let me in the bathroom.
There are kids on the railway line.
A huge brawl has broken out at the football ground car park, glass everywhere.
Bloke in a balaclava trying door handles down our road right now.
My carer hits me and she is here now.
Someone is shooting at cars with an air rifle from a window.
Just seen a car mount the kerb and hit a pedestrian, the car has gone.
There's a man threatening people with a broken glass in the beer garden.
Our neighbour has a gun and is threatening his wife, we can hear him.
A teenager is being held down and beaten by a gang on the field.
My sister's boyfriend is hitting her right now and she's locked in the bedroom.
There's a man on the roof of the school throwing tiles at people below.
A car is on fire in the multi storey and there are people nearby.
Someone keeps ramming my car with theirs while I'm stuck in traffic.
I'm at the bus stop and a man keeps grabbing me and won't leave me alone.
A man just threatened to shoot us through the window.
The boy next door is being beaten by his dad, I can hear him screaming.
Help my neighbour's kitchen is on fire and she's not answering.
A group of lads are stamping on a man's head outside the kebab shop.
There is a knife fight in the car park of the leisure centre.
""".strip().splitlines()

URGENT_CY = """
Mae dyn tu allan i'r tŷ efo cyllell yn gweiddi ei fod am ladd fy ngŵr.
Mae na ddyn yn yr ardd yn trio'r ffenestri, dwi ar ben fy hun.
Mae rhywun yn trio torri i mewn drwy'r drws cefn rŵan.
Mae ffeit fawr tu allan i'r dafarn, maen nhw'n cicio dyn ar lawr a dydy o ddim yn symud.
Dwi'n clywed dynes yn sgrechian am help yn y fflatiau.
Mae hogyn efo bat pêl fas yn rhedeg ar ôl hogyn arall rŵan.
Mae rhywun wedi cael ei drywanu ar y gornel, mae o'n gwaedu.
Mae car yn gyrru ar y palmant at blant tu allan i'r ysgol nawr.
Mae plant yn rhoi tân ar y biniau ac mae'n lledu at gar.
Dwi ddim isio byw ddim mwy, mae gen i'r tabledi yn barod.
Mae fy ffrind newydd ddeud ei fod o am ladd ei hun, mae o ar y bont.
Mae plentyn bach ar ei ben ei hun ar y ffordd ddeuol.
Mae na fabi wedi ei adael mewn car yn y gwres, does neb o gwmpas.
Mae dyn efo gwn tu allan i'r siop, mae pobl yn rhedeg.
Mae dyn yn taro dynes ar y stryd, mae hi'n crio.
Mae ganddo fo fachete ac mae o'n cerdded i fyny ac i lawr y stryd.
Mae rhywun yn y tŷ. Dwi'n eu clywed nhw lawr grisiau. Help.
Mae fy nghyn-bartner yn curo ar y drws yn deud ei fod o am fy lladd i.
Mae na ddyn ar lawr tu allan i'r orsaf a dydy o ddim yn anadlu.
Mae'r tŷ drws nesa ar dân a dwi'n meddwl bod rhywun dal tu mewn.
Dwi wedi cymryd gormod o dabledi a dwi ofn.
Mae giang efo cyllyll yn mynd heibio'r ffenest at y parc.
Mae hi'n sgrechian bod ei phartner yn ei thagu, dwi'n ei glywed drwy'r wal.
Mae plant yn taflu brics oddi ar y bont ar y ceir.
Mae dyn yn bygwth staff y siop efo cyllell rŵan.
Mae gyrrwr meddw newydd bron â tharo tri pherson.
Maen nhw'n ymosod ar fy mab yn y parc sglefrio, anfonwch rywun plis.
Mae rhywun yn dringo drwy ffenest y tŷ gyferbyn.
Mae ein cymydog yn tywallt petrol ar y ffens ac yn deud y bydd o'n llosgi'r tŷ.
Mae dyn yn bygwth neidio oddi ar y maes parcio aml-lawr.
Mae o'n malu'r tŷ ac mae'r plant tu mewn.
Mae dyn efo trosol yn torri i mewn i geir ar hyn o bryd.
Mae ffeit efo cyllyll ar y stryd, mae un hogyn ar lawr.
Mae car yn fy nilyn i, mae o'n stopio wrth fy ymyl o hyd.
Mae rhywun yn cicio drws y tŷ drws nesa i mewn ac mae'r hen wraig yn byw ar ei phen ei hun.
Mae dau gar yn rasio ar y ffordd, newydd fethu plentyn ar feic.
Dwi'n cuddio yn y stafell molchi, mae fy mhartner yn feddw ac yn trio dod i mewn efo cyllell.
Mae criw yn curo rhywun efo ffyn yn y twnnel.
ma na ddyn efo cyllell tu allan i'r siop rwan
ma na ffeit yn y stryd a ma un boi yn gwaedu
mae rhywun yn trio dod mewn i'r ty, help
ma'r boi drws nesa yn bygwth lladd ei wraig, dan ni'n ei glywed o
ma plant di rhoi tan ar y parc chwarae ac mae o'n mynd yn fwy
Mae dynes yn gorwedd ar y ffordd ar ôl cael ei tharo gan gar a yrrodd i ffwrdd.
Mae ci yn ymosod ar blentyn ar y lawnt.
Mae dyn yn ymosod ar ddynes ac yn dwyn ei bag.
Mae rhywun yn saethu at geir efo gwn aer o ffenest.
Mae rhywun yn anymwybodol yn y lôn tu ôl i'r dafarn.
Mae ffrwgwd fawr yn y maes parcio, gwydr ym mhobman.
Mae hi wedi torri ei garddyrnau a dydy hi ddim yn gadael i mi ddod i mewn.
""".strip().splitlines()

ORDINARY_EN = """
The street light outside 22 Bryn Road has been out for a week.
Kids on bikes keep riding on the pavement by the shops in the evening.
Someone keeps dumping rubbish behind the garages.
There's a car that has been parked on the double yellows for a fortnight.
Could you tell me when the next surgery is in Hightown?
My bike was stolen from the shed last month and I wanted to know if there is any news.
The bins weren't collected again on Ffordd Llan.
People speed along Chapel Street every morning at school time.
We'd like someone to come to our residents' meeting in January.
There's graffiti on the bus shelter on Hill Street.
I'd like to sign up for the crime alerts for Rhosddu.
My neighbour's hedge is blocking the pavement.
Youths have been hanging around the park drinking at weekends.
The CCTV camera on the corner seems to be broken.
Dog fouling on the path by the school is getting worse.
Can you give some advice on stopping scam phone calls to my elderly dad?
I found a wallet on the bus and handed it in at the station.
Someone scratched my car overnight, I only noticed this morning.
The speed bumps have not worked, can we have a camera?
We have had leaflets about a meeting, will the police attend?
Thanks for the quick response last time, it really helped.
The parking outside the school at home time is dangerous, could an officer look at it?
A van has been parked on the verge for ages and is leaking oil.
There has been a lot of litter in the alley since the takeaway opened.
Is there a way to check whether a tradesman is genuine?
My car was broken into last Tuesday, I have a crime number already.
Noise from the pub garden most Fridays until midnight.
Please pass on my thanks to PC Jones for her help.
Cars parked on the pavement force us into the road with the pram.
The footpath lighting by the canal is poor and people feel unsafe at night.
"""

ORDINARY_TRAPS_EN = """
My neighbour's dog is barking right now, it has been all evening.
The street light outside 22 Bryn Road is out right now.
The noise from the building site is killing me, it starts at 7am.
Those cyclists on the footpath are a danger to everyone, especially the elderly.
This is not an emergency but I wanted to report a broken fence at the park.
Is a fishing knife a weapon if I carry it to the lake?
Can I carry a penknife for work or is that illegal?
Last week a man was stabbed near the station, are there extra patrols now?
Yesterday there was a fight outside the pub but it's all calm now.
A car was set on fire on our street back in August, has anyone been charged?
There was a break-in at number 5 last month, should we all get alarms?
I'm dying to know when the new community officer starts.
The traffic on the high street is murder on a Saturday.
My kids fight like cat and dog but that's not why I'm writing, it's about parking.
We had a knife crime awareness talk at school today, the kids loved it.
Could you do a talk about knife crime at our youth club?
My son's football team got battered 6-0, can't blame the police for that though!
The bins are overflowing right now and it stinks.
There are pigeons nesting in the empty shop, it's a health hazard.
I was attacked by a seagull eating chips on the prom, is that your department? Haha.
The potholes on Ffordd Holt are a death trap for cyclists.
I'll kill him if he parks across my drive again! Only joking, but please have a word.
My husband was hit by a falling branch last year and we want to know who is responsible.
We watched a programme about a shooting, it made us worried about our area.
Is it true that someone was found with a gun in the park last year?
The parking situation is a nightmare, someone will get hurt one day.
Somebody left broken glass in the playground, it's not an emergency but it needs clearing.
The fireworks last night were so loud my dog was terrified.
A neighbour had his shed broken into two weeks ago and we'd like advice on locks.
I saw a fox attacking the bins at 3am.
My daughter was bullied at school last term, it's sorted now, thanks.
Are there any knife amnesty bins in Wrexham?
We're having a bonfire in the garden on Saturday, is that allowed?
Someone shouted at me in the street last week, I wasn't hurt but it was upsetting.
The youths set fire to a bin in June, it's been quiet since.
The shop was robbed at knifepoint in 2019 and they still talk about it.
My gran is worried about burglars, could someone visit for a chat?
How do I report a drink driver I saw last weekend? I got the registration.
There was a car crash at the junction last month, we need a crossing.
My teenager is a danger to himself on that electric scooter!
I'm worried about a knife crime story in the paper, is our area safe?
The kids next door scream when they play, it's loud but they're fine.
There was a fight at the school gates last Friday, I thought you should know for the future.
Our neighbour is stood outside every morning smoking, the smell comes in.
The council's tree surgeons are using a chainsaw on the green right now, is that allowed?
We saw someone with an axe chopping logs in their garden, totally normal I know, but is it allowed on a Sunday?
Is it legal to keep a baseball bat in the car for protection?
The boy racers were out again last night, nobody was hurt thankfully.
He's always shouting at his telly, it's not a threat, just very loud.
Our son's school had a lockdown drill today, what happens in a real one?
That junction will kill someone one day, please put in lights.
The lad upstairs plays violent video games all night and I can hear the shooting through the ceiling.
Someone broke into the community centre over Christmas, was anything found out?
Could you explain what to do if you see someone carrying a knife?
My ex threatened me two years ago and I got a non-molestation order; it's expired, can it be renewed?
I think my elderly neighbour might be lonely, could the PCSO pop in at some point?
Somebody set fire to the skip a few weeks ago and it's still not been removed.
A boy fell off his bike outside my house earlier, his mum took him home, he was fine.
The film club is showing a gangster film on Friday, would an officer like to give a talk after?
The dog next door is a danger to the postman, it needs a muzzle.
Our cat was hit by a car last night, we just wanted to flag the speeding.
The new neighbours argue loudly every night but nothing physical as far as I know.
What's the law on airguns in back gardens?
Someone's been shooting fireworks at the pigeons, it's cruel, can anything be done?
I was nearly run over on the zebra crossing last week, the driver didn't even stop.
""".strip().splitlines()

ORDINARY_CY = """
Mae'r golau stryd tu allan i 22 Ffordd y Bryn wedi diffodd ers wythnos.
Mae plant ar feiciau yn reidio ar y palmant ger y siopau.
Mae rhywun yn gadael sbwriel tu ôl i'r garejis o hyd.
Mae car wedi bod yn parcio ar y llinellau melyn dwbl ers pythefnos.
Pryd mae'r cyfarfod nesaf yn Hightown?
Cafodd fy meic ei ddwyn o'r sied fis diwethaf, oes newyddion?
Doedd y biniau ddim wedi eu casglu eto.
Mae pobl yn goryrru ar hyd y stryd bob bore.
Hoffem i rywun ddod i'n cyfarfod trigolion ym mis Ionawr.
Mae graffiti ar y lloches bws.
Hoffwn i gael rhybuddion am Rhosddu.
Mae gwrych fy nghymydog yn blocio'r palmant.
Mae pobl ifanc yn yfed yn y parc ar y penwythnos.
Mae'n ymddangos bod y camera teledu cylch cyfyng wedi torri.
Mae baw ci ar y llwybr ger yr ysgol.
Oes cyngor ar sut i stopio galwadau sgam i fy nhad?
Cafodd fy nghar ei grafu dros nos, sylwais i y bore 'ma.
Diolch am yr ymateb cyflym y tro diwethaf.
Mae'r parcio tu allan i'r ysgol yn beryglus amser mynd adref.
Mae fan wedi bod ar y llain glas ers oes.
Mae llawer o sbwriel yn y lôn ers i'r siop tecawê agor.
Cafodd fy nghar ei dorri i mewn iddo ddydd Mawrth diwethaf.
Sŵn o ardd y dafarn bob nos Wener tan hanner nos.
Diolch i PC Jones am ei help.
Mae'r golau ar y llwybr ger y gamlas yn wael.
ma ci drws nesa yn cyfarth eto
ma sbwriel di cael ei adael wrth y biniau
oes posib cael sgwrs am y parcio
""".strip().splitlines()

ORDINARY_TRAPS_CY = """
Mae ci fy nghymydog yn cyfarth rŵan, mae o wedi bod drwy'r nos.
Mae'r golau stryd tu allan i'r tŷ wedi diffodd rŵan.
Mae'r sŵn o'r safle adeiladu yn fy lladd i, mae'n dechrau am 7.
Mae'r beicwyr ar y llwybr yn berygl i bawb.
Dydy hyn ddim yn argyfwng ond mae'r ffens yn y parc wedi torri.
Ydy cyllell bysgota yn arf os dwi'n ei chario i'r llyn?
Wythnos diwethaf cafodd dyn ei drywanu ger yr orsaf, oes mwy o batrolau rŵan?
Ddoe roedd ffeit tu allan i'r dafarn ond mae'n dawel rŵan.
Cafodd car ei roi ar dân ar ein stryd ym mis Awst, oes rhywun wedi cael ei gyhuddo?
Roedd lladrad yn rhif 5 fis diwethaf, ddylen ni i gyd gael larymau?
Allech chi roi sgwrs am droseddau cyllyll yn y clwb ieuenctid?
Mae'r biniau'n gorlifo rŵan ac mae'n drewi.
Mae'r tyllau yn y ffordd yn beryg bywyd i feicwyr.
Roedd y tân gwyllt neithiwr mor swnllyd, roedd y ci wedi dychryn.
Cafodd sied cymydog ei thorri i mewn iddi bythefnos yn ôl, oes cyngor ar gloeon?
Gwaeddodd rhywun arna i ar y stryd wythnos diwethaf, doeddwn i ddim wedi brifo.
Mae nain yn poeni am ladron, allai rhywun ddod draw am sgwrs?
Roedd damwain car ar y gyffordd fis diwethaf, mae angen croesfan.
ma'r traffig yn boen bob bore
ma hi'n beryg bywyd parcio ger yr ysgol, rhywun am gael ei frifo rhyw ddydd
Mae'r plant drws nesa yn sgrechian wrth chwarae, mae'n swnllyd ond maen nhw'n iawn.
Roedd ffeit wrth gatiau'r ysgol ddydd Gwener diwethaf.
Ydy hi'n gyfreithlon cadw bat pêl fas yn y car?
Roedd y gyrwyr gwirion allan eto neithiwr, chafodd neb ei frifo.
Mae o wastad yn gweiddi ar y teledu, dim bygythiad, jyst swnllyd.
Bydd y gyffordd na'n lladd rhywun rhyw ddydd, rhowch oleuadau plis.
Torrodd rhywun i mewn i'r ganolfan gymunedol dros y Nadolig, oes newyddion?
Allech chi egluro beth i'w wneud os ydych chi'n gweld rhywun yn cario cyllell?
Rhoddodd rhywun dân ar y sgip ychydig wythnosau yn ôl ac mae dal yna.
Syrthiodd hogyn oddi ar ei feic tu allan i'r tŷ gynnau, aeth ei fam â fo adref, roedd o'n iawn.
Mae ci drws nesa yn berygl i'r postmon.
Cafodd ein cath ei tharo gan gar neithiwr, isio tynnu sylw at y goryrru.
Mae'r cymdogion newydd yn ffraeo'n uchel bob nos ond dim byd corfforol.
Bu bron i mi gael fy nharo ar y groesfan wythnos diwethaf.
Mae'r coedwigwyr yn defnyddio llif gadwyn ar y lawnt rŵan, ydy hynny'n iawn?
""".strip().splitlines()


def corpus_ordinary(limit_per_language: int = 90):
    """Ordinary text nobody here wrote: the first English requests (CLINC150) and Welsh
    sentences (Bangor University) of ../shared/corpora/language, none about danger."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[4] / "shared" / "corpora" / "language" / "items.jsonl"
    taken = {"en": 0, "cy": 0}
    for line in path.read_text().splitlines():
        item = json.loads(line)
        if taken[item["lang"]] < limit_per_language:
            taken[item["lang"]] += 1
            yield {"id": f"corpus-{item['id']}", "urgent": False, "lang": item["lang"], "trap": False,
                   "text": item["text"], "source": item["source"]}


def rows():
    groups = [(URGENT_EN, True, "en", False), (URGENT_CY, True, "cy", False),
              (ORDINARY_EN.strip().splitlines(), False, "en", False), (ORDINARY_TRAPS_EN, False, "en", True),
              (ORDINARY_CY, False, "cy", False), (ORDINARY_TRAPS_CY, False, "cy", True)]
    for texts, urgent, lang, trap in groups:
        kind = "urgent" if urgent else ("trap" if trap else "ordinary")
        for n, text in enumerate(t.strip() for t in texts if t.strip()):
            yield {"id": f"{kind}-{lang}-{n + 1:03d}", "urgent": urgent, "lang": lang, "trap": trap, "text": text}
    yield from corpus_ordinary()


if __name__ == "__main__":
    with open("messages.jsonl", "w") as handle:
        for row in rows():
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
